-- Securities exchange support (증권 거래소 지원), as the source document specifies:
-- four columns on `accounts` and the `securities_tokens` table with its indexes.
-- idx_account_type is built CONCURRENTLY by 0003, outside this transaction,
-- so that writers to a large `accounts` table are not blocked during the build.
--
-- Atomic and re-runnable on its own: psql -v ON_ERROR_STOP=1 -f <this file>
-- (the runner drops the outer BEGIN/COMMIT and uses its own transaction).
-- Adding a column with a constant default is a catalog-only change (Postgres
-- 11+): existing rows read 'CRYPTO' without a table rewrite.
-- squawk-ignore-file prefer-bigint-over-int, prefer-identity, prefer-text-field, prefer-timestamptz, adding-not-nullable-field, adding-field-with-default, require-lock-timeout, require-statement-timeout
--   (types, defaults and NOT NULL are the seed's contract; NOT NULL with a constant
--   default needs no scan on Postgres 11+; the runner sets lock_timeout and
--   statement_timeout for every migration)

BEGIN;

DO $$
BEGIN
  IF to_regclass('accounts') IS NULL THEN
    RAISE EXCEPTION 'relation "accounts" does not exist: this migration extends the legacy accounts table (check the table name with \dt; see the troubleshooting section)';
  END IF;
END
$$;

DO $$
DECLARE
  added_columns TEXT[] := ARRAY[]::TEXT[];
  spec RECORD;
BEGIN
  FOR spec IN
    SELECT * FROM (VALUES
      (1, 'account_type', 'VARCHAR(20) NOT NULL DEFAULT ''CRYPTO'''),
      (2, 'securities_config', 'TEXT'),
      (3, 'access_token', 'TEXT'),
      (4, 'token_expires_at', 'TIMESTAMP')
    ) AS columns_to_add(position, column_name, definition)
    ORDER BY position
  LOOP
    IF EXISTS (
      SELECT 1 FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = 'accounts' AND column_name = spec.column_name
    ) THEN
      RAISE NOTICE '⏭️ accounts.% 컬럼 이미 존재함 (건너뜀)', spec.column_name;
    ELSE
      EXECUTE format('ALTER TABLE accounts ADD COLUMN %I %s', spec.column_name, spec.definition);
      RAISE NOTICE '✅ accounts.% 컬럼 추가 완료', spec.column_name;
    END IF;
  END LOOP;
END
$$;

DO $$
BEGIN
  IF to_regclass('securities_tokens') IS NOT NULL THEN
    IF (SELECT relkind FROM pg_class WHERE oid = to_regclass('securities_tokens')) <> 'r' THEN
      RAISE EXCEPTION 'securities_tokens exists but is not a table (a view or another kind of relation): rename it, then run the migration again';
    END IF;
    RAISE NOTICE '⏭️ securities_tokens 테이블 이미 존재함 (건너뜀)';
  ELSE
    CREATE TABLE securities_tokens (
      id SERIAL PRIMARY KEY,
      account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
      access_token TEXT NOT NULL,
      token_type VARCHAR(20) NOT NULL DEFAULT 'Bearer',
      expires_in INTEGER NOT NULL,
      expires_at TIMESTAMP NOT NULL,
      created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
      last_refreshed_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
      UNIQUE (account_id)
    );
    RAISE NOTICE '✅ securities_tokens 테이블 생성 완료';
  END IF;
END
$$;

-- securities_tokens is new (or small): building these inside the transaction is cheap.
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX IF NOT EXISTS idx_securities_token_account_id ON securities_tokens (account_id);
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX IF NOT EXISTS idx_securities_token_expires_at ON securities_tokens (expires_at);
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX IF NOT EXISTS idx_securities_token_last_refreshed ON securities_tokens (last_refreshed_at);

COMMIT;

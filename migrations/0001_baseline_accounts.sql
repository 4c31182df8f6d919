-- Baseline: the legacy crypto-only `accounts` table.
-- On a fresh database this creates it; on the legacy system's database the
-- table already exists (with whatever columns it has) and is left untouched.
-- There is no .down.sql: the runner never drops the legacy table.
-- squawk-ignore-file prefer-bigint-over-int, prefer-identity, prefer-robust-stmts, prefer-text-field, prefer-timestamptz
--   (the legacy table's own types; the seed and the running system depend on them)

DO $$
BEGIN
  IF to_regclass('accounts') IS NOT NULL THEN
    RAISE NOTICE 'accounts table already exists: baseline skipped, legacy table left as it is';
  END IF;
END
$$;

CREATE TABLE IF NOT EXISTS accounts (
  id SERIAL PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  exchange VARCHAR(50) NOT NULL,
  api_key TEXT,
  api_secret TEXT,
  is_active BOOLEAN NOT NULL DEFAULT TRUE,
  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

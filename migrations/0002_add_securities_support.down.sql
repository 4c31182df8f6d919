-- Rollback of securities exchange support (the seed's rollback script).
-- WARNING: deletes all securities data: the securities_tokens table and the
-- four accounts columns (SECURITIES_STOCK accounts lose their type). Legacy
-- columns and rows are not touched. Also removes idx_account_type (from 0003),
-- so that this file alone undoes the whole feature when run with psql.
-- squawk-ignore-file ban-drop-column, ban-drop-table, require-lock-timeout, require-statement-timeout
--   (dropping what the migration added is the point of a rollback; the runner sets timeouts)

BEGIN;

DROP TABLE IF EXISTS securities_tokens;
-- The DROP COLUMNs below take ACCESS EXCLUSIVE anyway; a concurrent drop cannot run in this transaction.
-- squawk-ignore require-concurrent-index-deletion
DROP INDEX IF EXISTS idx_account_type;

ALTER TABLE accounts
  DROP COLUMN IF EXISTS token_expires_at,
  DROP COLUMN IF EXISTS access_token,
  DROP COLUMN IF EXISTS securities_config,
  DROP COLUMN IF EXISTS account_type;

DO $$
BEGIN
  RAISE NOTICE '✅ 증권 거래소 지원 롤백 완료';
END
$$;

COMMIT;

-- migrate:no-transaction
-- squawk-ignore-file require-lock-timeout, require-statement-timeout
--   (the runner sets lock_timeout and statement_timeout for every migration)
DROP INDEX CONCURRENTLY IF EXISTS idx_account_type;

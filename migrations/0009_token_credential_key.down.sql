-- migrate:no-transaction
-- squawk-ignore-file require-lock-timeout, require-statement-timeout, ban-drop-column
--   (removing what 0009 added is the point; the runner sets the timeouts)
DROP INDEX CONCURRENTLY IF EXISTS idx_securities_token_state_credential_key;

ALTER TABLE securities_token_state DROP COLUMN IF EXISTS token_credential_key;

-- migrate:no-transaction
-- squawk-ignore-file require-lock-timeout, require-statement-timeout
--   (the runner sets lock_timeout and statement_timeout for every migration)
-- The credential a stored token was issued under, kept with the token's
-- bookkeeping (the seed's securities_tokens stays exactly as the seed has
-- it): the same sha256 of (broker, environment, app key) that keys
-- broker_issuance_slots, never the key itself. Accounts sharing an app key
-- share its token; this is how the service finds the other holders before it
-- revokes a token at the broker. NULL for tokens stored before this migration
-- (their next refresh fills it in). A nullable column without a default is a
-- catalog-only change; the index is built CONCURRENTLY so token commits are
-- never blocked.

ALTER TABLE securities_token_state ADD COLUMN IF NOT EXISTS token_credential_key TEXT;

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_securities_token_state_credential_key
  ON securities_token_state (token_credential_key);

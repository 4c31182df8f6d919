-- Removes the token lifecycle bookkeeping; securities_tokens itself stays.
-- squawk-ignore-file ban-drop-table, require-lock-timeout, require-statement-timeout
--   (dropping what 0005 added is the point; the runner sets the timeouts)
BEGIN;
DROP TABLE IF EXISTS securities_token_attempts;
DROP TABLE IF EXISTS securities_token_state;
DROP TABLE IF EXISTS broker_issuance_slots;
COMMIT;

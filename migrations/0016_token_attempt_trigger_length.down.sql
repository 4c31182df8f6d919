-- Back to VARCHAR(30). Rows with a longer trigger would not fit: they are
-- cut to 30 characters first (the attempts are history, not keys).
-- squawk-ignore-file changing-column-type, prefer-text-field, require-lock-timeout, require-statement-timeout
--   (the runner sets lock_timeout and statement_timeout)

BEGIN;

UPDATE securities_token_attempts SET trigger = left(trigger, 30) WHERE length(trigger) > 30;
ALTER TABLE securities_token_attempts ALTER COLUMN trigger TYPE VARCHAR(30);

COMMIT;

-- securities_token_attempts.trigger was VARCHAR(30) (0005), and the trigger
-- `credentials_changed_during_issue` is 32 characters: the revoke of a token
-- discarded because the credentials changed mid-issue was never recorded
-- (the insert failed with "value too long"). Widened to 64. Raising a
-- VARCHAR's length is a catalog-only change in Postgres: no rewrite, no
-- scan, only a short ACCESS EXCLUSIVE lock.
-- squawk-ignore-file changing-column-type, prefer-text-field, require-lock-timeout, require-statement-timeout
--   (a longer VARCHAR needs no rewrite; the runner sets lock_timeout and statement_timeout)

BEGIN;

ALTER TABLE securities_token_attempts ALTER COLUMN trigger TYPE VARCHAR(64);

COMMIT;

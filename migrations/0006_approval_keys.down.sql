-- Removes the KIS websocket approval keys (they are re-issued on demand).
-- squawk-ignore-file ban-drop-table, require-lock-timeout, require-statement-timeout
--   (dropping what 0006 added is the point; the runner sets the timeouts)
BEGIN;
DROP TABLE IF EXISTS securities_approval_keys;
COMMIT;

-- Removes the broker gateway's pacing, audit and totals.
-- squawk-ignore-file ban-drop-table, require-lock-timeout, require-statement-timeout
--   (dropping what 0007 added is the point; the runner sets the timeouts)
BEGIN;
DROP TABLE IF EXISTS broker_call_totals;
DROP TABLE IF EXISTS broker_calls;
DROP TABLE IF EXISTS broker_call_pacing;
COMMIT;

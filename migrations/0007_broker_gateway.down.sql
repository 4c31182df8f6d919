-- Removes the broker gateway's pacing, audit and totals.
-- squawk-ignore-file ban-drop-table, require-lock-timeout, require-statement-timeout
--   (dropping what 0007 added is the point; the runner sets the timeouts)
BEGIN;
DROP FUNCTION IF EXISTS broker_call_status();
DROP FUNCTION IF EXISTS record_broker_call(JSONB, BOOLEAN);
DROP FUNCTION IF EXISTS broker_call_slot(INTEGER, TEXT, TEXT, TEXT, FLOAT8, FLOAT8);
DROP TABLE IF EXISTS broker_call_totals;
DROP TABLE IF EXISTS broker_calls;
DROP TABLE IF EXISTS broker_call_pacing;
COMMIT;

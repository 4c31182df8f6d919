-- Removes the hub's tables: the stored execution notices and balance events
-- go with them (they are a copy of what the brokers report; the brokers' own
-- day-order queries still answer).
-- squawk-ignore-file require-lock-timeout, require-statement-timeout, ban-drop-table
--   (the runner sets the timeouts; dropping the tables 0018 added is the rollback)

BEGIN;

DROP TABLE IF EXISTS stream_events;
DROP TABLE IF EXISTS stream_leases;

COMMIT;

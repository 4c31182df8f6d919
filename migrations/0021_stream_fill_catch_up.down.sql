-- Removes the fill catch-up: the marks, the fills and each event's fill. The events
-- themselves stay (catch-up events with them: they are notices a client may
-- already have read).
-- squawk-ignore-file require-lock-timeout, require-statement-timeout, ban-drop-table, ban-drop-column
--   (the runner sets the timeouts; dropping what 0021 added is the rollback)

BEGIN;

DROP FUNCTION IF EXISTS stream_catch_up_fills(INTEGER, TEXT, DATE, TIMESTAMPTZ, TIMESTAMPTZ, BOOLEAN, JSONB);
DROP FUNCTION IF EXISTS stream_catch_up_fill(INTEGER, TEXT, TEXT, JSONB, TEXT, DATE, TEXT, BIGINT, TIMESTAMPTZ, TIMESTAMPTZ, BOOLEAN);
DROP FUNCTION IF EXISTS stream_record_fill(INTEGER, TEXT, TEXT, TIMESTAMPTZ, JSONB, TEXT, DATE, TEXT, BIGINT, BIGINT);
DROP FUNCTION IF EXISTS stream_store_fill(INTEGER, TEXT, TEXT, TIMESTAMPTZ, JSONB, TEXT, DATE, TEXT, JSONB, TIMESTAMPTZ, TIMESTAMPTZ);
DROP FUNCTION IF EXISTS stream_fill_mark(INTEGER, DATE, TEXT);
DROP TABLE IF EXISTS stream_fills;
DROP TABLE IF EXISTS stream_fill_marks;
ALTER TABLE stream_events DROP COLUMN IF EXISTS fill;

COMMIT;

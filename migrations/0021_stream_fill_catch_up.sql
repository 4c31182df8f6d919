-- Fills the hub did not hear (issue 19): a broker never replays a notice
-- sent while no session was up (a silent drop, a restart, a hand-over), so
-- after each (re)login the hub reads the account's day orders and stores
-- what they show filled beyond what its notices already account for.
--
-- * stream_fill_marks: per account, Korea trade date and order number (order
--   numbers restart each day), the filled total the stored notices account
--   for. Every fill notice and every catch-up moves it, under its row lock,
--   so the two never count one fill twice:
--   - a catch-up stores only the difference between the broker's total and
--     the mark, and records when it read (caught_up_from/to);
--   - a notice that carries the order's running total (Kiwoom) is stored only
--     when its total is above the mark;
--   - a notice that does not (KIS) is covered when its fill time ends before
--     the catch-up began reading, new when it is at or after the read's end,
--     and stored but flagged uncertain in between (it may be in that total).
-- * stream_events.fill: the fill an event adds, one shape for both brokers
--   and for catch-ups: {source, order_no, quantity, filled_total[, uncertain]}.
--   NULL for events that fill nothing (an acceptance, a balance event).
-- squawk-ignore-file require-lock-timeout, require-statement-timeout, prefer-bigint-over-int, prefer-robust-stmts
--   (the runner sets lock_timeout and statement_timeout for every migration;
--   account_id matches accounts.id, an INTEGER)

BEGIN;

CREATE TABLE IF NOT EXISTS stream_fill_marks (
  account_id INTEGER NOT NULL,
  trade_date DATE NOT NULL,
  -- Without leading zeros: notices and day orders may pad it differently.
  order_no TEXT NOT NULL,
  filled_total BIGINT NOT NULL CHECK (filled_total >= 0),
  -- The last catch-up that raised the total: from when it began reading the
  -- day orders to when their answer came.
  caught_up_from TIMESTAMPTZ,
  caught_up_to TIMESTAMPTZ,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (account_id, trade_date, order_no)
);

ALTER TABLE stream_events ADD COLUMN IF NOT EXISTS fill JSONB;

-- The mark's row, created at 0 when it has none, locked for this transaction.
CREATE OR REPLACE FUNCTION stream_fill_mark(p_account_id INTEGER, p_trade_date DATE, p_order_no TEXT)
RETURNS stream_fill_marks LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  mark stream_fill_marks;
BEGIN
  INSERT INTO stream_fill_marks (account_id, trade_date, order_no, filled_total)
  VALUES (p_account_id, p_trade_date, p_order_no, 0)
  ON CONFLICT (account_id, trade_date, order_no) DO NOTHING;
  SELECT * INTO mark FROM stream_fill_marks
  WHERE account_id = p_account_id AND trade_date = p_trade_date AND order_no = p_order_no
  FOR UPDATE;
  RETURN mark;
END
$$;

-- A live fill notice: stored with its fill unless a catch-up already counted
-- it (then nothing is stored and no row is returned). p_total is the order's
-- running total when the notice says it (Kiwoom), NULL when not (KIS).
CREATE OR REPLACE FUNCTION stream_record_fill(
  p_account_id INTEGER, p_broker TEXT, p_symbol TEXT, p_event_at TIMESTAMPTZ, p_fields JSONB,
  p_raw TEXT, p_trade_date DATE, p_order_no TEXT, p_quantity BIGINT, p_total BIGINT
) RETURNS TABLE (seq BIGINT, fill JSONB) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  mark stream_fill_marks;
  added BIGINT;
  total BIGINT;
  uncertain BOOLEAN := false;
  stored JSONB;
BEGIN
  mark := stream_fill_mark(p_account_id, p_trade_date, p_order_no);
  IF p_total IS NOT NULL THEN
    IF p_total <= mark.filled_total THEN RETURN; END IF;
    total := p_total;
    added := p_total - mark.filled_total;
  ELSE
    IF mark.caught_up_from IS NOT NULL THEN
      -- The notice's time is a whole second: the fill happened within it.
      IF p_event_at + interval '1 second' <= mark.caught_up_from THEN RETURN; END IF;
      uncertain := p_event_at < mark.caught_up_to;
    END IF;
    added := p_quantity;
    total := mark.filled_total + p_quantity;
  END IF;
  UPDATE stream_fill_marks SET filled_total = total, updated_at = clock_timestamp()
  WHERE account_id = p_account_id AND trade_date = p_trade_date AND order_no = p_order_no;
  stored := jsonb_build_object('source', 'notice', 'order_no', p_order_no,
    'quantity', added, 'filled_total', total)
    || CASE WHEN uncertain THEN '{"uncertain": true}'::jsonb ELSE '{}'::jsonb END;
  RETURN QUERY
  INSERT INTO stream_events AS e (account_id, broker, kind, symbol, event_at, fields, raw, fill)
  VALUES (p_account_id, p_broker, 'notice', p_symbol, p_event_at, p_fields, p_raw, stored)
  RETURNING e.seq, e.fill;
END
$$;

-- One order of a catch-up: the broker's filled total p_total, read between
-- p_read_from and p_read_to. Stores one notice event with what the mark did
-- not account for and raises the mark; returns no row when nothing was missing.
CREATE OR REPLACE FUNCTION stream_catch_up_fill(
  p_account_id INTEGER, p_broker TEXT, p_symbol TEXT, p_fields JSONB, p_raw TEXT,
  p_trade_date DATE, p_order_no TEXT, p_total BIGINT,
  p_read_from TIMESTAMPTZ, p_read_to TIMESTAMPTZ
) RETURNS TABLE (seq BIGINT, fill JSONB) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  mark stream_fill_marks;
  stored JSONB;
BEGIN
  mark := stream_fill_mark(p_account_id, p_trade_date, p_order_no);
  IF p_total <= mark.filled_total THEN RETURN; END IF;
  UPDATE stream_fill_marks
  SET filled_total = p_total, caught_up_from = p_read_from, caught_up_to = p_read_to,
      updated_at = clock_timestamp()
  WHERE account_id = p_account_id AND trade_date = p_trade_date AND order_no = p_order_no;
  stored := jsonb_build_object('source', 'catch_up', 'order_no', p_order_no,
    'quantity', p_total - mark.filled_total, 'filled_total', p_total);
  RETURN QUERY
  INSERT INTO stream_events AS e (account_id, broker, kind, symbol, event_at, fields, raw, fill)
  VALUES (p_account_id, p_broker, 'notice', p_symbol, p_read_to, p_fields, p_raw, stored)
  RETURNING e.seq, e.fill;
END
$$;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'securities_support_runtime') THEN
    EXECUTE format('GRANT SELECT, INSERT, UPDATE ON %I.stream_fill_marks TO securities_support_runtime', current_schema());
  END IF;
END
$$;

COMMIT;

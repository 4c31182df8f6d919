-- Fills the hub did not hear (issue 19): a broker never replays a notice
-- sent while no session was up (a silent drop, a restart, a hand-over), so
-- after each (re)login, and every STREAM_CATCH_UP_INTERVAL_MS, the hub reads
-- the account's day orders and stores what they show filled beyond what its
-- notices already told.
--
-- * stream_fill_marks: per account, Korea trade date and order number (order
--   numbers restart each day), the filled total the stored events account
--   for. Every fill notice and every catch-up takes its row lock, so the two
--   never count one fill twice.
-- * stream_fills: each stored fill (a notice's, or a catch-up's), with when
--   it happened, for the rule below.
-- * stream_events.fill: the fill an event adds, one shape for both brokers
--   and for catch-ups: {source, order_no, quantity, filled_total[, uncertain]}.
--   NULL for events that fill nothing (an acceptance, a balance event).
--
-- The rule, per order:
-- * Notices that carry the order's running total (Kiwoom): one is stored
--   only when its total is above the mark; a catch-up stores the broker's
--   total less the mark.
-- * Notices that carry only the fill and its second (KIS): a catch-up whose
--   read ran from p_read_from to p_read_to stores the broker's total less the
--   fills stored from up to p_read_to (a fill in the read's own second is
--   counted as before it: at worst a missing share waits for the next
--   catch-up, never told twice); fills after the read do not hide a missing
--   one. A notice that arrives after a catch-up raised the mark is covered
--   when its second ended before that read began, new when it came at or
--   after the read's end, and stored but flagged uncertain in between.
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

CREATE TABLE IF NOT EXISTS stream_fills (
  account_id INTEGER NOT NULL,
  trade_date DATE NOT NULL,
  order_no TEXT NOT NULL,
  -- A notice's fill time (to the second), or the end of a catch-up's read.
  filled_at TIMESTAMPTZ NOT NULL,
  quantity BIGINT NOT NULL CHECK (quantity > 0),
  -- The stream_events row that told it.
  seq BIGINT NOT NULL,
  PRIMARY KEY (account_id, trade_date, order_no, seq)
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

-- What both functions below end with: the order's new mark (and, for a
-- catch-up, its read), the notice event with its fill, and the fill's row.
-- Returns the event's seq.
CREATE OR REPLACE FUNCTION stream_store_fill(
  p_account_id INTEGER, p_broker TEXT, p_symbol TEXT, p_event_at TIMESTAMPTZ, p_fields JSONB,
  p_raw TEXT, p_trade_date DATE, p_order_no TEXT, p_fill JSONB,
  p_read_from TIMESTAMPTZ, p_read_to TIMESTAMPTZ
) RETURNS BIGINT LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  stored_seq BIGINT;
BEGIN
  UPDATE stream_fill_marks
  SET filled_total = (p_fill->>'filled_total')::bigint,
      caught_up_from = coalesce(p_read_from, caught_up_from),
      caught_up_to = coalesce(p_read_to, caught_up_to),
      updated_at = clock_timestamp()
  WHERE account_id = p_account_id AND trade_date = p_trade_date AND order_no = p_order_no;
  INSERT INTO stream_events (account_id, broker, kind, symbol, event_at, fields, raw, fill)
  VALUES (p_account_id, p_broker, 'notice', p_symbol, p_event_at, p_fields, p_raw, p_fill)
  RETURNING stream_events.seq INTO stored_seq;
  INSERT INTO stream_fills (account_id, trade_date, order_no, filled_at, quantity, seq)
  VALUES (p_account_id, p_trade_date, p_order_no, p_event_at, (p_fill->>'quantity')::bigint,
          stored_seq);
  RETURN stored_seq;
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
  fill := jsonb_build_object('source', 'notice', 'order_no', p_order_no,
    'quantity', added, 'filled_total', total)
    || CASE WHEN uncertain THEN '{"uncertain": true}'::jsonb ELSE '{}'::jsonb END;
  seq := stream_store_fill(p_account_id, p_broker, p_symbol, p_event_at, p_fields, p_raw,
    p_trade_date, p_order_no, fill, NULL, NULL);
  RETURN NEXT;
END
$$;

-- One order of a catch-up: the broker's filled total p_total, read between
-- p_read_from and p_read_to; p_running when the broker's notices carry running
-- totals. Stores one notice event with what the stored fills do not account
-- for and raises the mark; returns no row when nothing is missing.
CREATE OR REPLACE FUNCTION stream_catch_up_fill(
  p_account_id INTEGER, p_broker TEXT, p_symbol TEXT, p_fields JSONB, p_raw TEXT,
  p_trade_date DATE, p_order_no TEXT, p_total BIGINT,
  p_read_from TIMESTAMPTZ, p_read_to TIMESTAMPTZ, p_running BOOLEAN
) RETURNS TABLE (seq BIGINT, fill JSONB) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  mark stream_fill_marks;
  told BIGINT;
  missing BIGINT;
BEGIN
  mark := stream_fill_mark(p_account_id, p_trade_date, p_order_no);
  IF p_running THEN
    told := mark.filled_total;
  ELSE
    SELECT coalesce(sum(f.quantity), 0) INTO told FROM stream_fills f
    WHERE f.account_id = p_account_id AND f.trade_date = p_trade_date
      AND f.order_no = p_order_no AND f.filled_at <= p_read_to;
  END IF;
  missing := p_total - told;
  IF missing <= 0 THEN RETURN; END IF;
  fill := jsonb_build_object('source', 'catch_up', 'order_no', p_order_no,
    'quantity', missing, 'filled_total', mark.filled_total + missing);
  seq := stream_store_fill(p_account_id, p_broker, p_symbol, p_read_to, p_fields, p_raw,
    p_trade_date, p_order_no, fill, p_read_from, p_read_to);
  RETURN NEXT;
END
$$;

-- A whole catch-up in one call: every order of the read (p_orders, a JSON
-- array of {order_no, symbol, total, fields, raw}) through stream_catch_up_fill,
-- in the array's order (the hub sorts it by order number, so two catch-ups of
-- one account take the marks' locks alike). One row per event stored.
CREATE OR REPLACE FUNCTION stream_catch_up_fills(
  p_account_id INTEGER, p_broker TEXT, p_trade_date DATE,
  p_read_from TIMESTAMPTZ, p_read_to TIMESTAMPTZ, p_running BOOLEAN, p_orders JSONB
) RETURNS TABLE (seq BIGINT, fill JSONB) LANGUAGE sql VOLATILE AS $$
  SELECT c.seq, c.fill
  FROM jsonb_to_recordset(p_orders) AS o(order_no TEXT, symbol TEXT, total BIGINT, fields JSONB, raw TEXT)
  CROSS JOIN LATERAL stream_catch_up_fill(p_account_id, p_broker, o.symbol, o.fields, o.raw,
    p_trade_date, o.order_no, o.total, p_read_from, p_read_to, p_running) AS c
$$;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'securities_support_runtime') THEN
    EXECUTE format('GRANT SELECT, INSERT, UPDATE ON %I.stream_fill_marks TO securities_support_runtime', current_schema());
    EXECUTE format('GRANT SELECT, INSERT ON %I.stream_fills TO securities_support_runtime', current_schema());
  END IF;
END
$$;

COMMIT;

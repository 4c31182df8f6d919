-- Orders through the gateway (issue 18):
-- * order_intents: one row per (account, Idempotency-Key), committed before a
--   byte of the order goes to the broker. It holds a hash of the request
--   (method, path, body, transaction id), the order's terms (symbol, side,
--   quantity, price) for reconciliation, the state, the broker's answer and
--   order number, and when it was sent and resolved. A row is kept 24 hours
--   after it was created (keep_until) and never while unresolved.
-- * broker_calls gets the intent's key and state (an order call's row, and
--   the day-order queries that reconcile it), and `refused`: a call the
--   gateway's pacing held back at the wire, which never reached the broker
--   and is not counted as a failed broker call.
-- * record_broker_call writes the three new columns.
-- squawk-ignore-file prefer-bigint-over-int, prefer-text-field, require-lock-timeout, require-statement-timeout, prefer-robust-stmts
--   (account ids are the seed's INTEGER; the table is new; the runner sets the timeouts)

BEGIN;

CREATE TABLE order_intents (
  account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  idempotency_key TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN
    ('in_flight', 'accepted', 'rejected', 'unknown', 'not_placed', 'ambiguous')),
  -- The order's terms as the adapter read them; NULL when it could not (never matched then).
  symbol TEXT,
  side TEXT CHECK (side IN ('buy', 'sell')),
  terms JSONB,
  -- The broker's answer as the caller got it: {status, headers, body}.
  answer JSONB,
  broker_order_no TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
  sent_at TIMESTAMPTZ,
  resolved_at TIMESTAMPTZ,
  -- Day-order queries that found no match, for `not_placed` after the window.
  reconcile_checks INTEGER NOT NULL DEFAULT 0,
  keep_until TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (account_id, idempotency_key)
);

-- The open intents (the refresh job's leftovers, /broker/status, the one-unknown rule).
CREATE INDEX order_intents_open ON order_intents (account_id, symbol, side)
  WHERE state IN ('in_flight', 'unknown');

-- An order number of the broker is bound to one intent at most.
CREATE UNIQUE INDEX order_intents_order_no ON order_intents (account_id, broker_order_no)
  WHERE broker_order_no IS NOT NULL;

-- Nullable columns without a default: no table rewrite.
ALTER TABLE broker_calls ADD COLUMN idempotency_key TEXT;
ALTER TABLE broker_calls ADD COLUMN order_state TEXT;
-- A constant default: no table rewrite either (PostgreSQL 11+).
ALTER TABLE broker_calls ADD COLUMN refused BOOLEAN NOT NULL DEFAULT false;

-- 0014's function with the three new columns.
CREATE OR REPLACE FUNCTION record_broker_call(p_call JSONB, p_failed BOOLEAN) RETURNS VOID
LANGUAGE sql VOLATILE AS $$
  SELECT set_config('synchronous_commit', 'off', true);
  WITH audited AS (
    INSERT INTO broker_calls
      (account_id, called_at, broker, environment, method, path, transaction_id, status,
       broker_code, latency_ms, key_id, replayed, idempotency_key, order_state, refused)
    SELECT account_id, called_at, broker, environment, method, path, transaction_id, status,
           broker_code, latency_ms, key_id, replayed, idempotency_key, order_state,
           coalesce(refused, false)
    FROM jsonb_populate_record(NULL::broker_calls, p_call)
  )
  INSERT INTO broker_call_totals AS t (account_id, calls, failed_calls, last_call_at, last_error)
  SELECT a.id, 1, CASE WHEN p_failed THEN 1 ELSE 0 END, (p_call->>'called_at')::timestamp,
         CASE WHEN p_failed THEN jsonb_build_object(
           'at', p_call->'called_at', 'status', p_call->'status',
           'broker_code', p_call->'broker_code', 'path', p_call->'path') END
  FROM accounts a WHERE a.id = (p_call->>'account_id')::int
  ON CONFLICT (account_id) DO UPDATE
    SET calls = t.calls + 1, failed_calls = t.failed_calls + EXCLUDED.failed_calls,
        last_call_at = EXCLUDED.last_call_at, last_error = coalesce(EXCLUDED.last_error, t.last_error)
$$;

-- Claims an intent in ONE statement, before the order is sent:
-- * an expired resolved intent of the key is dropped first (keys live 24 h);
-- * an intent in flight for longer than p_stale_ms (its process died, or
--   its answer never came) becomes `unknown`, to be reconciled;
-- * another `unknown` intent on the same (account, symbol, side), or one in
--   flight with the same quantity and price, refuses a new key:
--   "reconciling" (our own traffic never makes a match ambiguous);
-- * a new key is inserted `in_flight` ("claimed");
-- * a `not_placed` intent with the same request is claimed again (sent once more);
-- * otherwise the stored intent comes back for the caller to replay or refuse.
CREATE FUNCTION claim_order_intent(
  p_account_id INTEGER, p_key TEXT, p_hash TEXT, p_symbol TEXT, p_side TEXT, p_terms JSONB,
  p_keep_ms FLOAT8, p_stale_ms FLOAT8
) RETURNS TABLE (
  outcome TEXT, state TEXT, request_hash TEXT, answer JSONB, broker_order_no TEXT,
  sent_at TIMESTAMPTZ, resolved_at TIMESTAMPTZ, created_at TIMESTAMPTZ, terms JSONB
) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  found order_intents;
BEGIN
  DELETE FROM order_intents i
  WHERE i.account_id = p_account_id AND i.idempotency_key = p_key
    AND i.keep_until < clock_timestamp() AND i.state NOT IN ('in_flight', 'unknown');
  UPDATE order_intents i SET state = 'unknown', sent_at = coalesce(i.sent_at, i.created_at)
  WHERE i.account_id = p_account_id AND i.idempotency_key = p_key AND i.state = 'in_flight'
    AND i.created_at < clock_timestamp() - p_stale_ms * interval '1 millisecond';
  -- Claims on one (account, symbol, side) take turns, so the checks below hold.
  IF p_symbol IS NOT NULL THEN
    PERFORM pg_advisory_xact_lock(hashtextextended(
      'order_intents:' || p_account_id || ':' || p_symbol || ':' || p_side, 0));
  END IF;
  INSERT INTO order_intents AS i
    (account_id, idempotency_key, request_hash, state, symbol, side, terms, keep_until)
  SELECT p_account_id, p_key, p_hash, 'in_flight', p_symbol, p_side, p_terms,
         clock_timestamp() + p_keep_ms * interval '1 millisecond'
  WHERE NOT EXISTS (
    SELECT 1 FROM order_intents u
    WHERE u.account_id = p_account_id AND u.symbol = p_symbol AND u.side = p_side
      AND u.idempotency_key <> p_key
      AND (u.state = 'unknown'
        -- The same terms in flight: if both answers were lost, neither could be told apart.
        OR (u.state = 'in_flight' AND u.terms->>'quantity' = p_terms->>'quantity'
            AND u.terms->>'price' = p_terms->>'price')))
  ON CONFLICT (account_id, idempotency_key) DO NOTHING
  RETURNING * INTO found;
  IF found.account_id IS NOT NULL THEN
    RETURN QUERY SELECT 'claimed', found.state, found.request_hash, found.answer,
      found.broker_order_no, found.sent_at, found.resolved_at, found.created_at, found.terms;
    RETURN;
  END IF;
  SELECT * INTO found FROM order_intents i
  WHERE i.account_id = p_account_id AND i.idempotency_key = p_key FOR UPDATE;
  IF found.account_id IS NULL THEN
    RETURN QUERY SELECT 'reconciling', NULL::text, NULL::text, NULL::jsonb, NULL::text,
      NULL::timestamptz, NULL::timestamptz, NULL::timestamptz, NULL::jsonb;
    RETURN;
  END IF;
  IF found.request_hash = p_hash AND found.state = 'not_placed' THEN
    UPDATE order_intents i SET state = 'in_flight', answer = NULL, sent_at = NULL,
      resolved_at = NULL, reconcile_checks = 0, created_at = clock_timestamp(),
      keep_until = clock_timestamp() + p_keep_ms * interval '1 millisecond'
    WHERE i.account_id = p_account_id AND i.idempotency_key = p_key
    RETURNING * INTO found;
    RETURN QUERY SELECT 'claimed', found.state, found.request_hash, found.answer,
      found.broker_order_no, found.sent_at, found.resolved_at, found.created_at, found.terms;
    RETURN;
  END IF;
  RETURN QUERY SELECT 'existing', found.state, found.request_hash, found.answer,
    found.broker_order_no, found.sent_at, found.resolved_at, found.created_at, found.terms;
END
$$;

-- The runtime role is granted each table by name (migration 0015 took its
-- default privileges back): it reads and writes the intents.
GRANT SELECT, INSERT, UPDATE, DELETE ON order_intents TO securities_support_runtime;

COMMIT;

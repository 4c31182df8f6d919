-- Drops claim_order_slot and puts back 0017's claim_order_intent (the key's row checked before every claim).
-- squawk-ignore-file require-lock-timeout, require-statement-timeout, prefer-robust-stmts
--   (the runner sets lock_timeout and statement_timeout for every migration)

BEGIN;

DROP FUNCTION claim_order_slot(INTEGER, TEXT, TEXT, TEXT, TEXT, JSONB, FLOAT8, FLOAT8, TEXT, TEXT, TEXT, FLOAT8, FLOAT8);

CREATE OR REPLACE FUNCTION claim_order_intent(
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

COMMIT;

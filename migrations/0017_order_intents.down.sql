-- Drops the order intents and puts back 0014's record_broker_call.
-- squawk-ignore-file require-lock-timeout, require-statement-timeout, prefer-robust-stmts, ban-drop-column, ban-drop-table
--   (the runner sets lock_timeout and statement_timeout for every migration)

BEGIN;

DROP FUNCTION claim_order_intent(INTEGER, TEXT, TEXT, TEXT, TEXT, JSONB, FLOAT8, FLOAT8);

CREATE OR REPLACE FUNCTION record_broker_call(p_call JSONB, p_failed BOOLEAN) RETURNS VOID
LANGUAGE sql VOLATILE AS $$
  SELECT set_config('synchronous_commit', 'off', true);
  WITH audited AS (
    INSERT INTO broker_calls
      (account_id, called_at, broker, environment, method, path, transaction_id, status,
       broker_code, latency_ms, key_id, replayed)
    SELECT account_id, called_at, broker, environment, method, path, transaction_id, status,
           broker_code, latency_ms, key_id, replayed
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

ALTER TABLE broker_calls DROP COLUMN refused;
ALTER TABLE broker_calls DROP COLUMN order_state;
ALTER TABLE broker_calls DROP COLUMN idempotency_key;

DROP TABLE order_intents;

COMMIT;

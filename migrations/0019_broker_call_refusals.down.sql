-- Puts back 0017's record_broker_call and 0007's broker_call_status, and drops the refusal count.
-- squawk-ignore-file require-lock-timeout, require-statement-timeout, prefer-robust-stmts, ban-drop-column
--   (the runner sets lock_timeout and statement_timeout for every migration)

BEGIN;

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

CREATE OR REPLACE FUNCTION broker_call_status() RETURNS JSONB
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'accounts', coalesce(jsonb_agg(jsonb_build_object(
      'account_id', account_id, 'calls', calls, 'failed_calls', failed_calls,
      'last_call_at', to_char(last_call_at, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
      'last_error', last_error) ORDER BY account_id), '[]'::jsonb),
    'totals', jsonb_build_object(
      'calls', coalesce(sum(calls), 0), 'failed_calls', coalesce(sum(failed_calls), 0)))
  FROM broker_call_totals
$$;

ALTER TABLE broker_call_totals DROP COLUMN refused_calls;

COMMIT;

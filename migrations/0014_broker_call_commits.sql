-- The broker gateway's two per-call statements (0007), changed:
-- * neither commit waits for the WAL flush (synchronous_commit off for their
--   own transaction only). If the database server crashed, the writes of its
--   last moments (about three wal_writer_delay, 600 ms by default) would be
--   lost: the pacing bookings, so one app key could send that many calls
--   early, once; and the audit rows of those calls. In exchange no call
--   waits for a disk flush: about half a millisecond off every call, and
--   the audit rows (written after each answer) no longer hold the pool's
--   connections through a flush while the next calls' pacing statements
--   queue behind them (bench gateway). Every other write of the service
--   still waits for the disk.
-- * broker_call_slot's "waitMs" is never negative: the clock is read again
--   after the row is written, so a free slot came back as about -0.2 ms
--   (and the GatewayPacedWaitTime metric showed it).
-- Same signatures and result columns: callers and grants are unchanged.
-- squawk-ignore-file require-lock-timeout, require-statement-timeout
--   (the runner sets lock_timeout and statement_timeout for every migration)

BEGIN;

CREATE OR REPLACE FUNCTION broker_call_slot(
  p_account_id INTEGER, p_key TEXT, p_broker TEXT, p_environment TEXT,
  p_spacing_ms FLOAT8, p_max_wait_ms FLOAT8
) RETURNS TABLE (
  "waitMs" FLOAT8, "queuedMs" FLOAT8, "updatedAt" TIMESTAMP, active BOOLEAN, "accountId" INTEGER,
  ciphertext TEXT, "tokenType" VARCHAR, "expiresAt" TIMESTAMP, "lastRefreshedAt" TIMESTAMP,
  rejected BOOLEAN
) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  spacing INTERVAL := p_spacing_ms * interval '1 millisecond';
  wait FLOAT8;
  queued FLOAT8;
BEGIN
  -- This transaction only books a slot: it need not wait for its WAL to reach disk.
  PERFORM set_config('synchronous_commit', 'off', true);
  INSERT INTO broker_call_pacing AS p (credential_key, broker, environment, next_at)
  VALUES (p_key, p_broker, p_environment, clock_timestamp() + spacing)
  ON CONFLICT (credential_key) DO UPDATE
    SET next_at = greatest(p.next_at, clock_timestamp()) + spacing
    WHERE p.next_at <= clock_timestamp() + p_max_wait_ms * interval '1 millisecond'
  RETURNING greatest(0, extract(epoch FROM p.next_at - clock_timestamp()) * 1000 - p_spacing_ms)
    INTO wait;
  IF wait IS NULL THEN
    SELECT extract(epoch FROM q.next_at - clock_timestamp()) * 1000 INTO queued
    FROM broker_call_pacing q WHERE q.credential_key = p_key;
  END IF;
  RETURN QUERY
    SELECT wait, queued, a.updated_at, a.is_active, a.id,
           st.access_token, st.token_type, st.expires_at, st.last_refreshed_at,
           coalesce(s.rejected_token_refreshed_at = st.last_refreshed_at, false)
    FROM accounts a
    LEFT JOIN securities_tokens st ON st.account_id = a.id
    LEFT JOIN securities_token_state s ON s.account_id = a.id
    WHERE a.id = p_account_id;
END
$$;


-- One call's audit row and its account's totals, committed without waiting for the disk.
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

COMMIT;

-- The broker gateway's bookkeeping:
-- * broker_call_pacing: one row per (broker, environment, app key), keyed by
--   the same sha256 as broker_issuance_slots (never the key itself).
--   next_at is the earliest time the next call may leave; every call moves it
--   forward by one spacing in a single statement on the database's clock, so
--   every process and Lambda shares one pace per app key.
-- * broker_calls: the audit of every forwarded call (account, broker path
--   without its query, transaction id, status, broker code, latency, the
--   caller's key id); never a body or a header value.
-- * broker_call_totals: per-account call counts and the last broker error,
--   kept in the same statement as the audit row, for the status route
--   (which so never scans the audit).
-- squawk-ignore-file prefer-bigint-over-int, prefer-text-field, prefer-timestamptz, prefer-robust-stmts, require-lock-timeout, require-statement-timeout
--   (account ids are the seed's INTEGER; TIMESTAMP columns hold UTC like the
--   seed's; all tables are new; the runner sets the timeouts)

BEGIN;

CREATE TABLE IF NOT EXISTS broker_call_pacing (
  credential_key TEXT PRIMARY KEY,
  broker VARCHAR(20) NOT NULL,
  environment VARCHAR(10) NOT NULL,
  -- With a time zone (unlike the seed's columns): it is only ever compared
  -- with clock_timestamp(), never read as a wall-clock time.
  next_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS broker_calls (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_id INTEGER NOT NULL,
  called_at TIMESTAMP NOT NULL,
  broker VARCHAR(20) NOT NULL,
  environment VARCHAR(10) NOT NULL,
  method VARCHAR(10) NOT NULL,
  path TEXT NOT NULL,
  transaction_id VARCHAR(40),
  status INTEGER NOT NULL,
  broker_code TEXT,
  latency_ms INTEGER NOT NULL,
  key_id TEXT,
  replayed BOOLEAN NOT NULL DEFAULT false
);

CREATE TABLE IF NOT EXISTS broker_call_totals (
  account_id INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
  calls BIGINT NOT NULL DEFAULT 0,
  failed_calls BIGINT NOT NULL DEFAULT 0,
  last_call_at TIMESTAMP,
  -- {"at", "status", "broker_code", "path"} of the last call the broker refused or did not answer.
  last_error JSONB
);

-- One call's slot and what the gateway needs to send it, in ONE statement
-- (the function is the statement's body, so every process and Lambda paces
-- with the same code on the database's clock):
-- * the slot is the later of the key's next_at and clock_timestamp() read
--   after the row lock is taken (waiting for another caller's statement
--   never makes a slot early), and next_at moves one spacing further, so
--   calls of one key leave at least p_spacing_ms apart;
-- * when the slot is more than p_max_wait_ms away nothing changes, "waitMs"
--   is NULL and "queuedMs" says how far away the next free slot is;
-- * the account's updated_at and is_active, and its token row with the
--   reported-rejected flag (as core/tokens reads it), named as the
--   TypeScript side takes them.
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
  INSERT INTO broker_call_pacing AS p (credential_key, broker, environment, next_at)
  VALUES (p_key, p_broker, p_environment, clock_timestamp() + spacing)
  ON CONFLICT (credential_key) DO UPDATE
    SET next_at = greatest(p.next_at, clock_timestamp()) + spacing
    WHERE p.next_at <= clock_timestamp() + p_max_wait_ms * interval '1 millisecond'
  RETURNING extract(epoch FROM p.next_at - clock_timestamp()) * 1000 - p_spacing_ms INTO wait;
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

-- One call's audit row and its account's totals.
CREATE OR REPLACE FUNCTION record_broker_call(p_call JSONB, p_failed BOOLEAN) RETURNS VOID
LANGUAGE sql VOLATILE AS $$
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

-- The status route's report: per account (that has called) its counts and
-- last broker error, and the totals, as the JSON the route answers.
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

-- New, empty table: building this inside the transaction is cheap.
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX IF NOT EXISTS idx_broker_calls_account
  ON broker_calls (account_id, called_at DESC);

COMMIT;

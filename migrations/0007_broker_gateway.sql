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
--   kept in the same statement as the audit row, for the status route.
-- squawk-ignore-file prefer-bigint-over-int, prefer-text-field, prefer-timestamptz, prefer-robust-stmts, require-lock-timeout, require-statement-timeout
--   (account ids are the seed's INTEGER; TIMESTAMP columns hold UTC like the
--   seed's; all tables are new; the runner sets the timeouts)

BEGIN;

CREATE TABLE IF NOT EXISTS broker_call_pacing (
  credential_key TEXT PRIMARY KEY,
  broker VARCHAR(20) NOT NULL,
  environment VARCHAR(10) NOT NULL,
  next_at TIMESTAMP NOT NULL
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
  last_error_at TIMESTAMP,
  last_error_status INTEGER,
  last_error_code TEXT,
  last_error_path TEXT
);

-- New, empty table: building this inside the transaction is cheap.
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX IF NOT EXISTS idx_broker_calls_account
  ON broker_calls (account_id, called_at DESC);

COMMIT;

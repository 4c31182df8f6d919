-- Token lifecycle bookkeeping, next to the seed's securities_tokens (which
-- stays the source of truth for the token itself):
-- * broker_issuance_slots: one row per (broker, environment, app key), keyed
--   by a sha256 of the three, never the key. Its lease makes one process the
--   issuer at a time, across every process and Lambda; next_allowed_at paces
--   issues to the broker's limit (KIS: one a minute per app key) and is
--   committed before the broker is called, so a crash cannot lose it.
-- * securities_token_state: per account refresh state: backoff after
--   failures, the last error, a reported-rejected token, and the refresh
--   job's claim so that overlapping runs never refresh an account twice.
-- * securities_token_attempts: every issue, reuse, revoke and failure, for
--   the status view and for operators. No FK: it outlives deleted accounts.
-- squawk-ignore-file prefer-bigint-over-int, prefer-text-field, prefer-timestamptz, prefer-robust-stmts, require-lock-timeout, require-statement-timeout
--   (account ids are the seed's INTEGER; TIMESTAMP columns hold UTC like the
--   seed's; all tables are new; the runner sets the timeouts)

BEGIN;

CREATE TABLE IF NOT EXISTS broker_issuance_slots (
  credential_key TEXT PRIMARY KEY,
  broker VARCHAR(20) NOT NULL,
  environment VARCHAR(10) NOT NULL,
  lease_owner TEXT,
  lease_until TIMESTAMP,
  next_allowed_at TIMESTAMP,
  last_issued_at TIMESTAMP,
  last_account_id INTEGER REFERENCES accounts (id) ON DELETE SET NULL
);

CREATE TABLE IF NOT EXISTS securities_token_state (
  account_id INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
  consecutive_failures INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TIMESTAMP,
  last_error_at TIMESTAMP,
  last_error_code TEXT,
  last_error_message TEXT,
  rejected_token_refreshed_at TIMESTAMP,
  claimed_by TEXT,
  claimed_until TIMESTAMP
);

CREATE TABLE IF NOT EXISTS securities_token_attempts (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_id INTEGER NOT NULL,
  attempted_at TIMESTAMP NOT NULL,
  action VARCHAR(20) NOT NULL,
  outcome VARCHAR(20) NOT NULL,
  trigger VARCHAR(30) NOT NULL,
  broker VARCHAR(20) NOT NULL,
  environment VARCHAR(10) NOT NULL,
  broker_code TEXT,
  message TEXT,
  duration_ms INTEGER
);

-- New, empty tables: building these inside the transaction is cheap.
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX IF NOT EXISTS idx_securities_token_attempts_account
  ON securities_token_attempts (account_id, attempted_at DESC);
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX IF NOT EXISTS idx_securities_token_state_next_attempt
  ON securities_token_state (next_attempt_at);

COMMIT;

-- The realtime hub (issue 19):
-- * stream_leases: which hub process holds the broker websocket of one
--   (broker, environment, app key). A holder renews expires_at by heartbeat;
--   another process takes the row over only once it has expired, so two hub
--   instances (a rolling deploy) never open two sessions for one app key
--   (KIS refuses the second, Kiwoom's kicks the first).
-- * stream_events: execution notices and balance events, append-only, with
--   a sequence a client resumes from (`since`). Market data is not stored.
--   The runtime role may read and append, never change or delete a row.
-- squawk-ignore-file require-lock-timeout, require-statement-timeout, prefer-bigint-over-int
--   (the runner sets lock_timeout and statement_timeout for every migration;
--   account_id matches accounts.id, an INTEGER)

BEGIN;

CREATE TABLE IF NOT EXISTS stream_leases (
  credential_key TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  -- Compared only with clock_timestamp(), on the database's clock.
  expires_at TIMESTAMPTZ NOT NULL,
  acquired_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS stream_events (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_id INTEGER NOT NULL,
  broker TEXT NOT NULL,
  kind TEXT NOT NULL,
  symbol TEXT,
  -- When the broker says it happened, and when the hub stored it.
  event_at TIMESTAMPTZ NOT NULL,
  stored_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
  fields JSONB NOT NULL,
  -- The broker's frame (KIS notices decrypted): every frame is stored, never
  -- merged, since two partial fills can read alike.
  raw TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS stream_events_account_seq ON stream_events (account_id, seq);

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'securities_support_runtime') THEN
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I.stream_leases TO securities_support_runtime', current_schema());
    EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON %I.stream_events FROM securities_support_runtime', current_schema());
    EXECUTE format('GRANT SELECT, INSERT ON %I.stream_events TO securities_support_runtime', current_schema());
  END IF;
END
$$;

COMMIT;

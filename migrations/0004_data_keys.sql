-- Envelope encryption: the wrapped data keys that encrypt secrets at rest.
-- Each ciphertext (v1.<data_keys.id>.<…>) names the data key that made it;
-- each data key is stored wrapped by a master key (a KMS key ARN or a local
-- key fingerprint), so rotating the master key re-wraps these few rows
-- instead of re-encrypting every secret. A new table: no lock on anything else.
-- squawk-ignore-file require-lock-timeout, require-statement-timeout
--   (the runner sets lock_timeout and statement_timeout for every migration)

BEGIN;

CREATE TABLE IF NOT EXISTS data_keys (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  master_key_id TEXT NOT NULL,
  wrapped_key BYTEA NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  rewrapped_at TIMESTAMPTZ
);

COMMIT;

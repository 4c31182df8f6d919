-- KIS websocket approval keys (POST /oauth2/Approval), one per securities
-- account that asked for one, with the same lifecycle as its token:
-- * approval_key holds the key encrypted by the service's cipher, its
--   authenticated data naming this table, column and account id, so a
--   ciphertext copied to another row does not decrypt;
-- * credential_key is the issuance slot's sha256 of (broker, environment,
--   app key): accounts sharing an app key share one issuance, and the key
--   itself is never stored in the clear;
-- * expires_at (UTC) drives the refresh job, which renews keys before expiry.
-- Issuance is serialised and paced per app key through broker_issuance_slots
-- (0005). Rows go with their account (cascade) and are deleted when the
-- account's credentials change.
-- squawk-ignore-file prefer-bigint-over-int, prefer-timestamptz, prefer-robust-stmts, require-lock-timeout, require-statement-timeout, require-concurrent-index-creation
--   (account ids are the seed's INTEGER; TIMESTAMP columns hold UTC like the
--   seed's; the table is new and empty, so its indexes build inside the
--   transaction at no cost; the runner sets the timeouts)

BEGIN;

CREATE TABLE IF NOT EXISTS securities_approval_keys (
  account_id INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
  credential_key TEXT NOT NULL,
  approval_key TEXT NOT NULL,
  expires_at TIMESTAMP NOT NULL,
  issued_at TIMESTAMP NOT NULL
);

CREATE INDEX IF NOT EXISTS idx_securities_approval_keys_expires_at
  ON securities_approval_keys (expires_at);
CREATE INDEX IF NOT EXISTS idx_securities_approval_keys_credential
  ON securities_approval_keys (credential_key);

COMMIT;

-- Removes the data keys. Every ciphertext written with them would become
-- unreadable for good, so this refuses while accounts still hold encrypted
-- api keys or secrets (the legacy columns outlive the securities rollback).
-- squawk-ignore-file ban-drop-table, require-lock-timeout, require-statement-timeout
--   (dropping what 0004 added is the point of the rollback; the runner sets timeouts)

BEGIN;

DO $$
BEGIN
  IF to_regclass('data_keys') IS NOT NULL AND EXISTS (
    SELECT 1 FROM accounts WHERE api_key LIKE 'v1.%' OR api_secret LIKE 'v1.%'
  ) THEN
    RAISE EXCEPTION 'accounts still hold api keys encrypted with data_keys: dropping data_keys would make them unreadable; delete those accounts or restore a backup instead';
  END IF;
END
$$;

DROP TABLE IF EXISTS data_keys;

COMMIT;

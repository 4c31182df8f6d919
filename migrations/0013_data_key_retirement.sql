-- Two-step deletion of data keys (`npm run keys -- rewrap`): a data key that
-- no ciphertext names is first marked retired, and deleted only by a later
-- run, after a margin, if still nothing names it. A process that was still
-- encrypting with it in the meantime makes it referenced again, and the
-- next run takes the mark back. A nullable column without a default: a
-- catalog-only change, no rewrite, no long lock.
-- Also grants the runtime role (0008) the tables of migrations numbered
-- below 0008 that landed after it (0006's securities_approval_keys): on a
-- fresh database they run before 0008, whose default privileges then do not
-- cover them. A table that does not exist (yet) is skipped.
-- squawk-ignore-file require-lock-timeout, require-statement-timeout
--   (the runner sets lock_timeout and statement_timeout for every migration)

BEGIN;

ALTER TABLE data_keys ADD COLUMN IF NOT EXISTS retired_at TIMESTAMPTZ;

DO $$
BEGIN
  IF to_regclass(format('%I.%I', current_schema(), 'securities_approval_keys')) IS NOT NULL THEN
    EXECUTE format(
      'GRANT SELECT, INSERT, UPDATE, DELETE ON %I.securities_approval_keys TO securities_support_runtime',
      current_schema()
    );
  END IF;
END
$$;

COMMIT;

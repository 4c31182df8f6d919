-- Removes the retirement mark: keys marked retired simply stay (nothing is
-- deleted by the rollback). The runtime role's grant on
-- securities_approval_keys stays with 0008's grants (0008's down takes them all).
-- squawk-ignore-file require-lock-timeout, require-statement-timeout, ban-drop-column
--   (the runner sets the timeouts; dropping the column 0013 added is the rollback)

BEGIN;

ALTER TABLE data_keys DROP COLUMN IF EXISTS retired_at;

COMMIT;

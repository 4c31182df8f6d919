-- Takes the runtime role's grants in this database back. The role itself
-- stays: roles belong to the whole server, other databases on it may use it,
-- and without grants (and, in AWS, without a password) it can do nothing.
-- Functions connecting as the role stop working: roll back the deploy first.
-- squawk-ignore-file require-lock-timeout, require-statement-timeout
--   (the runner sets lock_timeout and statement_timeout for every migration)

BEGIN;

DO $$
DECLARE
  schema_name TEXT := current_schema();
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'securities_support_runtime') THEN
    RETURN;
  END IF;
  EXECUTE format(
    'ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE ALL ON TABLES FROM securities_support_runtime',
    schema_name
  );
  EXECUTE format(
    'ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE ALL ON SEQUENCES FROM securities_support_runtime',
    schema_name
  );
  EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM securities_support_runtime', schema_name);
  EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM securities_support_runtime', schema_name);
  EXECUTE format('REVOKE ALL ON SCHEMA %I FROM securities_support_runtime', schema_name);
END
$$;

COMMIT;

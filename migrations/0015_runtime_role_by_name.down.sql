-- Gives the runtime role back what 0008 gave it: read and write on every
-- table in the schema the owner creates later (default privileges), UPDATE
-- and DELETE on the audit, and TEMPORARY on this database to PUBLIC.
-- squawk-ignore-file require-lock-timeout, require-statement-timeout
--   (the runner sets lock_timeout and statement_timeout for every migration)

BEGIN;

DO $$
DECLARE
  schema_name TEXT := current_schema();
  database_name TEXT := current_database();
  audit_table TEXT;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'securities_support_runtime') THEN
    RETURN;
  END IF;
  EXECUTE format(
    'ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO securities_support_runtime',
    schema_name
  );
  EXECUTE format(
    'ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO securities_support_runtime',
    schema_name
  );
  FOREACH audit_table IN ARRAY ARRAY['broker_calls', 'securities_token_attempts'] LOOP
    CONTINUE WHEN to_regclass(format('%I.%I', schema_name, audit_table)) IS NULL;
    EXECUTE format('GRANT UPDATE, DELETE ON %I.%I TO securities_support_runtime', schema_name, audit_table);
  END LOOP;
  IF pg_has_role((SELECT datdba FROM pg_database WHERE datname = database_name), 'USAGE')
     OR has_database_privilege(database_name, 'TEMPORARY WITH GRANT OPTION') THEN
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO PUBLIC', database_name);
  END IF;
END
$$;

COMMIT;

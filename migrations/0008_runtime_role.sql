-- The runtime role: what the API and refresh functions (and, locally,
-- `npm start` and the tests) connect as, instead of the owner/RDS master user
-- that runs migrations. It may read and write the service's tables and
-- nothing else: no DDL, no other table of the legacy system, no TRUNCATE,
-- and on data_keys only SELECT and INSERT (deleting or re-wrapping data keys
-- is the operator CLI's, run as the owner; a compromised API cannot destroy
-- the keys every ciphertext depends on).
-- * LOGIN without a password: in AWS it signs in with RDS IAM authentication
--   (rds_iam, granted below where it exists); locally `npm start` sets a
--   password it keeps in DATA_DIR. Roles are per server, grants per database.
-- * ALTER DEFAULT PRIVILEGES: tables and sequences that later migrations
--   create (as the same owner, in the same schema) are granted at once.
-- squawk-ignore-file require-lock-timeout, require-statement-timeout
--   (the runner sets lock_timeout and statement_timeout for every migration)

BEGIN;

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'securities_support_runtime') THEN
    BEGIN
      CREATE ROLE securities_support_runtime LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      -- Another database's migration on the same server created it just now.
      NULL;
    END;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam') THEN
    GRANT rds_iam TO securities_support_runtime;
  END IF;
END
$$;

DO $$
DECLARE
  schema_name TEXT := current_schema();
  service_table TEXT;
  privileges TEXT;
  sequence_name TEXT;
BEGIN
  EXECUTE format('GRANT USAGE ON SCHEMA %I TO securities_support_runtime', schema_name);
  FOR service_table, privileges IN
    SELECT * FROM (VALUES
      ('accounts', 'SELECT, INSERT, UPDATE, DELETE'),
      ('securities_tokens', 'SELECT, INSERT, UPDATE, DELETE'),
      ('data_keys', 'SELECT, INSERT'),
      ('broker_issuance_slots', 'SELECT, INSERT, UPDATE, DELETE'),
      ('securities_token_state', 'SELECT, INSERT, UPDATE, DELETE'),
      ('securities_token_attempts', 'SELECT, INSERT, UPDATE, DELETE'),
      ('broker_call_pacing', 'SELECT, INSERT, UPDATE, DELETE'),
      ('broker_calls', 'SELECT, INSERT, UPDATE, DELETE'),
      ('broker_call_totals', 'SELECT, INSERT, UPDATE, DELETE')
    ) AS service (name, privileges)
  LOOP
    -- A table of a migration this database has not got (yet) is skipped.
    CONTINUE WHEN to_regclass(format('%I.%I', schema_name, service_table)) IS NULL;
    EXECUTE format('GRANT %s ON %I.%I TO securities_support_runtime', privileges, schema_name, service_table);
    -- SERIAL columns need their sequence for INSERT (identity columns do not).
    FOR sequence_name IN
      SELECT pg_get_serial_sequence(format('%I.%I', schema_name, service_table), a.attname)
      FROM pg_attribute a
      WHERE a.attrelid = format('%I.%I', schema_name, service_table)::regclass
        AND a.attnum > 0 AND NOT a.attisdropped
        AND pg_get_serial_sequence(format('%I.%I', schema_name, service_table), a.attname) IS NOT NULL
    LOOP
      EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %s TO securities_support_runtime', sequence_name);
    END LOOP;
  END LOOP;
  EXECUTE format(
    'ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO securities_support_runtime',
    schema_name
  );
  EXECUTE format(
    'ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO securities_support_runtime',
    schema_name
  );
END
$$;

COMMIT;

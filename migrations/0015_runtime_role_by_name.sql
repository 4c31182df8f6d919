-- The runtime role (0008) reached further than the service: its default
-- privileges granted it read and write on every table the owner created
-- later, the legacy system's included, and it could DELETE and UPDATE the
-- audit. From here on it is granted by name only:
-- * the default privileges are taken back, and every table grant in the
--   schema is replaced by the list below. A migration that adds a table
--   grants it by name (GRANT ... ON new_table TO securities_support_runtime)
--   in that migration; nothing is granted by default any more.
-- * the audit is append-only for it: SELECT and INSERT on broker_calls and
--   securities_token_attempts, never UPDATE or DELETE (no code of the
--   service deletes or updates them; a retention job would run as the owner
--   or through a SECURITY DEFINER function). data_keys stays SELECT, INSERT.
-- * this database: CONNECT is granted to it by name, and TEMPORARY is taken
--   from PUBLIC (the service never makes temporary tables), where the
--   migration's user may (it owns the database, or holds the grant option);
--   otherwise a NOTICE says what the operator must run. CONNECT is left to
--   PUBLIC here: the legacy system's roles may rely on it. Other databases
--   on the server are not this migration's to change: docs/deploy.md gives
--   the statements for them.
-- squawk-ignore-file require-lock-timeout, require-statement-timeout
--   (the runner sets lock_timeout and statement_timeout for every migration)

BEGIN;

DO $$
DECLARE
  schema_name TEXT := current_schema();
  database_name TEXT := current_database();
  service_table TEXT;
  privileges TEXT;
  sequence_name TEXT;
  relation TEXT;
  relation_kind "char";
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'securities_support_runtime') THEN
    RAISE EXCEPTION 'the securities_support_runtime role is missing: migration 0008 creates it';
  END IF;
  EXECUTE format(
    'ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE ALL ON TABLES FROM securities_support_runtime',
    schema_name
  );
  EXECUTE format(
    'ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE ALL ON SEQUENCES FROM securities_support_runtime',
    schema_name
  );
  -- Table by table, only where the role holds something: REVOKE ... ON ALL
  -- TABLES fails outright on a legacy table another role owns and the
  -- migration's user has no privilege on (RDS's master user is no superuser).
  FOR relation, relation_kind IN
    SELECT DISTINCT c.oid::regclass::text, c.relkind
    FROM pg_class c, aclexplode(c.relacl) a
    WHERE c.relnamespace = schema_name::regnamespace
      AND a.grantee = 'securities_support_runtime'::regrole
  LOOP
    BEGIN
      EXECUTE format('REVOKE ALL ON %s %s FROM securities_support_runtime',
        CASE WHEN relation_kind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, relation);
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE NOTICE 'could not take securities_support_runtime''s privileges on % (not granted by the migration''s user): its owner should run REVOKE ALL ON % FROM securities_support_runtime',
        relation, relation;
    END;
  END LOOP;
  FOR service_table, privileges IN
    SELECT * FROM (VALUES
      ('accounts', 'SELECT, INSERT, UPDATE, DELETE'),
      ('securities_tokens', 'SELECT, INSERT, UPDATE, DELETE'),
      ('data_keys', 'SELECT, INSERT'),
      ('securities_approval_keys', 'SELECT, INSERT, UPDATE, DELETE'),
      ('broker_issuance_slots', 'SELECT, INSERT, UPDATE, DELETE'),
      ('securities_token_state', 'SELECT, INSERT, UPDATE, DELETE'),
      ('securities_token_attempts', 'SELECT, INSERT'),
      ('broker_call_pacing', 'SELECT, INSERT, UPDATE, DELETE'),
      ('broker_calls', 'SELECT, INSERT'),
      ('broker_call_totals', 'SELECT, INSERT, UPDATE, DELETE')
    ) AS service (name, privileges)
  LOOP
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

  IF pg_has_role((SELECT datdba FROM pg_database WHERE datname = database_name), 'USAGE')
     OR has_database_privilege(database_name, 'TEMPORARY WITH GRANT OPTION') THEN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO securities_support_runtime', database_name);
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', database_name);
  ELSE
    RAISE NOTICE 'the migration''s user does not own database %: run, as its owner, GRANT CONNECT ON DATABASE % TO securities_support_runtime; REVOKE TEMPORARY ON DATABASE % FROM PUBLIC',
      database_name, database_name, database_name;
  END IF;
END
$$;

COMMIT;

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSql, RUNTIME_DATABASE_ROLE, type Sql } from "../../core/db";
import { HISTORY_TABLE } from "../../core/migrations";
import { refreshDueTokens } from "../../core/tokens";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { startTestServer, type TestServer } from "../support/server";

/** SQLSTATE insufficient_privilege. */
const DENIED = "42501";

let db: TestDatabase;
let runtime: Sql;

beforeAll(async () => {
  db = await createTestDatabase({
    // A table of the legacy system that the service has no business reading.
    before: async (sql) => {
      await sql`CREATE TABLE legacy_users (id SERIAL PRIMARY KEY, email TEXT)`;
    },
  });
  await db.sql`INSERT INTO legacy_users (email) VALUES ('someone@example.com')`;
  runtime = createSql(db.runtimeUrl, { max: 1 });
});

afterAll(async () => {
  await runtime?.end();
  await db?.drop();
});

async function sqlState(query: Promise<unknown>): Promise<string | undefined> {
  return query.then(
    () => undefined,
    (error: { code?: string }) => error.code ?? "no code",
  );
}

describe("the runtime database role", () => {
  it("is who the service's connection is", async () => {
    const [row] = await runtime<{ user: string }[]>`SELECT current_user AS user`;
    expect(row?.user).toBe("securities_support_runtime");
    expect(RUNTIME_DATABASE_ROLE).toBe("securities_support_runtime");
  });

  it("cannot change the schema", async () => {
    expect(await sqlState(runtime`CREATE TABLE intruder (id INT)`)).toBe(DENIED);
    expect(await sqlState(runtime`ALTER TABLE accounts ADD COLUMN intruder TEXT`)).toBe(DENIED);
    expect(await sqlState(runtime`DROP TABLE securities_tokens`)).toBe(DENIED);
    expect(await sqlState(runtime`TRUNCATE accounts`)).toBe(DENIED);
    expect(await sqlState(runtime`CREATE INDEX intruder ON accounts (name)`)).toBe(DENIED);
  });

  it("cannot read a table that is not the service's, nor the migration history", async () => {
    expect(await sqlState(runtime`SELECT * FROM legacy_users`)).toBe(DENIED);
    expect(await sqlState(runtime`SELECT * FROM ${runtime(HISTORY_TABLE)}`)).toBe(DENIED);
  });

  it("may add data keys and read them, never change or delete one", async () => {
    const [key] = await runtime<{ id: string }[]>`
      INSERT INTO data_keys (master_key_id, wrapped_key) VALUES ('local:test', '\\x00') RETURNING id`;
    expect(key?.id).toBeDefined();
    expect(await sqlState(runtime`SELECT count(*) FROM data_keys`)).toBeUndefined();
    expect(await sqlState(runtime`DELETE FROM data_keys WHERE id = ${key?.id ?? 0}`)).toBe(DENIED);
    expect(
      await sqlState(runtime`UPDATE data_keys SET master_key_id = 'x' WHERE id = ${key?.id ?? 0}`),
    ).toBe(DENIED);
  });

  it("holds exactly its granted privileges on each table the migrations created", async () => {
    const rows = await db.sql<{ name: string; privileges: string }[]>`
      SELECT c.relname AS name,
             coalesce((SELECT string_agg(p, ',' ORDER BY p)
                       FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p
                       WHERE has_table_privilege(${RUNTIME_DATABASE_ROLE}, c.oid, p)), '') AS privileges
      FROM pg_class c
      WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
        AND c.relname NOT IN ('legacy_users', ${HISTORY_TABLE})
      ORDER BY c.relname`;
    const readWrite = "DELETE,INSERT,SELECT,UPDATE";
    const appendOnly = "INSERT,SELECT";
    expect(Object.fromEntries(rows.map((r) => [r.name, r.privileges]))).toEqual({
      accounts: readWrite,
      broker_call_pacing: readWrite,
      broker_call_totals: readWrite,
      broker_calls: appendOnly,
      broker_issuance_slots: readWrite,
      data_keys: appendOnly,
      order_intents: readWrite,
      securities_approval_keys: readWrite,
      securities_token_attempts: appendOnly,
      securities_token_state: readWrite,
      securities_tokens: readWrite,
      stream_events: appendOnly,
      stream_fill_marks: "INSERT,SELECT,UPDATE",
      stream_fills: appendOnly,
      stream_leases: readWrite,
    });
  });

  it("gets no table a later migration creates until that migration grants it by name", async () => {
    await db.sql`CREATE TABLE later_feature (id SERIAL PRIMARY KEY, note TEXT)`;
    try {
      expect(await sqlState(runtime`SELECT note FROM later_feature`)).toBe(DENIED);
      expect(await sqlState(runtime`INSERT INTO later_feature (note) VALUES ('x')`)).toBe(DENIED);
      await db.sql`GRANT SELECT, INSERT ON later_feature TO ${db.sql(RUNTIME_DATABASE_ROLE)}`;
      await db.sql`GRANT USAGE ON SEQUENCE later_feature_id_seq TO ${db.sql(RUNTIME_DATABASE_ROLE)}`;
      await runtime`INSERT INTO later_feature (note) VALUES ('granted by name')`;
      const [row] = await runtime<{ note: string }[]>`SELECT note FROM later_feature`;
      expect(row?.note).toBe("granted by name");
    } finally {
      await db.sql`DROP TABLE later_feature`;
    }
  });

  it("has no default privileges left in the service's schema", async () => {
    const rows = await db.sql<{ kind: string }[]>`
      SELECT d.defaclobjtype AS kind FROM pg_default_acl d, aclexplode(d.defaclacl) x
      WHERE x.grantee = ${RUNTIME_DATABASE_ROLE}::regrole`;
    expect(rows).toEqual([]);
  });

  it("may append to the broker-call audit and read it, never change or delete a row", async () => {
    const [call] = await runtime<{ id: string }[]>`
      INSERT INTO broker_calls (account_id, called_at, broker, environment, method, path, status, latency_ms)
      VALUES (1, now(), 'KIS', 'paper', 'GET', '/probe', 200, 1) RETURNING id`;
    expect(call?.id).toBeDefined();
    expect(await sqlState(runtime`SELECT count(*) FROM broker_calls`)).toBeUndefined();
    expect(
      await sqlState(runtime`UPDATE broker_calls SET status = 500 WHERE id = ${call?.id ?? 0}`),
    ).toBe(DENIED);
    expect(await sqlState(runtime`DELETE FROM broker_calls WHERE id = ${call?.id ?? 0}`)).toBe(
      DENIED,
    );
  });

  it("may append to the token-attempt audit and read it, never change or delete a row", async () => {
    const [attempt] = await runtime<{ id: string }[]>`
      INSERT INTO securities_token_attempts (account_id, attempted_at, action, outcome, trigger, broker, environment)
      VALUES (1, now(), 'issue', 'issued', 'probe', 'KIS', 'paper') RETURNING id`;
    expect(attempt?.id).toBeDefined();
    expect(await sqlState(runtime`SELECT count(*) FROM securities_token_attempts`)).toBeUndefined();
    expect(
      await sqlState(
        runtime`UPDATE securities_token_attempts SET outcome = 'x' WHERE id = ${attempt?.id ?? 0}`,
      ),
    ).toBe(DENIED);
    expect(
      await sqlState(runtime`DELETE FROM securities_token_attempts WHERE id = ${attempt?.id ?? 0}`),
    ).toBe(DENIED);
  });

  it("cannot create a temporary table in the service's database", async () => {
    expect(await sqlState(runtime`CREATE TEMPORARY TABLE scratch (id INT)`)).toBe(DENIED);
  });

  it("holds CONNECT on the service's database by name, so the deploy can take PUBLIC's away", async () => {
    const [row] = await db.sql<{ privileges: string[] }[]>`
      SELECT array_agg(x.privilege_type ORDER BY x.privilege_type) AS privileges
      FROM pg_database d, aclexplode(d.datacl) x
      WHERE d.datname = current_database() AND x.grantee = ${RUNTIME_DATABASE_ROLE}::regrole`;
    expect(row?.privileges).toEqual(["CONNECT"]);
  });

  it("owns nothing in the database", async () => {
    const [row] = await db.sql<{ owned: number }[]>`
      SELECT (SELECT count(*) FROM pg_class WHERE relowner = ${RUNTIME_DATABASE_ROLE}::regrole)
           + (SELECT count(*) FROM pg_namespace WHERE nspowner = ${RUNTIME_DATABASE_ROLE}::regrole)
           + (SELECT count(*) FROM pg_proc WHERE proowner = ${RUNTIME_DATABASE_ROLE}::regrole)
           + (SELECT count(*) FROM pg_type WHERE typowner = ${RUNTIME_DATABASE_ROLE}::regrole) AS owned`;
    expect(Number(row?.owned)).toBe(0);
  });

  it("cannot give itself any role attribute", async () => {
    for (const attribute of [
      "SUPERUSER",
      "CREATEDB",
      "CREATEROLE",
      "BYPASSRLS",
      "REPLICATION",
      "CONNECTION LIMIT 1",
    ]) {
      const state = await sqlState(
        runtime.unsafe(`ALTER ROLE ${RUNTIME_DATABASE_ROLE} ${attribute}`),
      );
      expect({ attribute, state }).toEqual({ attribute, state: DENIED });
    }
  });

  it("can still set its own session defaults, which Postgres allows every role (the documented limit)", async () => {
    // docs/security.md: no grant takes this away and event triggers do not
    // fire for roles. If a Postgres release refuses it, this test says so.
    const database = (await runtime<{ name: string }[]>`SELECT current_database() AS name`)[0]
      ?.name;
    const inThisDatabase = `ALTER ROLE ${RUNTIME_DATABASE_ROLE} IN DATABASE ${database}`;
    expect(
      await sqlState(runtime.unsafe(`${inThisDatabase} SET work_mem = '1MB'`)),
    ).toBeUndefined();
    await db.sql.unsafe(`${inThisDatabase} RESET ALL`);
  });
});

describe("the service as the runtime role", () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });

  afterAll(async () => {
    await server?.stop();
  });

  it("creates an account, issues its token and runs the refresh job", async () => {
    const [who] = await server.runtime.sql<{ user: string }[]>`SELECT current_user AS user`;
    expect(who?.user).toBe(RUNTIME_DATABASE_ROLE);
    const created = await server.call("/accounts", {
      method: "POST",
      body: JSON.stringify({
        name: "KIS paper",
        account_type: "SECURITIES_STOCK",
        exchange: "KIS",
        environment: "paper",
        api_key: "PSruntimeRoleKey0001",
        api_secret: "runtime-role-secret",
        securities_config: {
          account_number: "50123456",
          product_code: "01",
          market_type: "DOMESTIC_STOCK",
        },
      }),
      headers: { "content-type": "application/json" },
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: number };
    const token = await server.call(`/accounts/${id}/token`);
    expect(token.status).toBe(200);
    const summary = await refreshDueTokens({
      sql: server.runtime.sql,
      tokens: server.runtime.tokens,
    });
    expect(summary.failed).toBe(0);
    const deleted = await server.call(`/accounts/${id}`, { method: "DELETE" });
    expect(deleted.status).toBeLessThan(300);
  });
});

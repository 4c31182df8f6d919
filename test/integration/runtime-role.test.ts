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

  it("may read and write every table the migrations created (the grants follow the service's tables)", async () => {
    const tables = await db.sql<{ name: string }[]>`
      SELECT tablename AS name FROM pg_tables
      WHERE schemaname = current_schema() AND tablename NOT IN ('legacy_users', ${HISTORY_TABLE})
      ORDER BY tablename`;
    expect(tables.map((t) => t.name)).toEqual(
      expect.arrayContaining(["accounts", "data_keys", "securities_tokens"]),
    );
    for (const { name } of tables) {
      const wanted = name === "data_keys" ? "SELECT,INSERT" : "SELECT,INSERT,UPDATE,DELETE";
      const [row] = await db.sql<{ ok: boolean }[]>`
        SELECT has_table_privilege(${RUNTIME_DATABASE_ROLE}, ${name}, ${wanted}) AS ok`;
      expect({ table: name, ok: row?.ok }).toEqual({ table: name, ok: true });
    }
  });

  it("gets a table a later migration creates without another grant (default privileges)", async () => {
    await db.sql`CREATE TABLE later_feature (id SERIAL PRIMARY KEY, note TEXT)`;
    await runtime`INSERT INTO later_feature (note) VALUES ('from the runtime role')`;
    const [row] = await runtime<{ note: string }[]>`SELECT note FROM later_feature`;
    expect(row?.note).toBe("from the runtime role");
    await db.sql`DROP TABLE later_feature`;
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

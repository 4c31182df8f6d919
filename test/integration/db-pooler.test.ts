import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSql, type Sql } from "../../core/db";
import { type PgBouncer, pgbouncerBinary, startPgBouncer } from "../../dev/pgbouncer";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { startTestServer, type TestServer } from "../support/server";
import { requiredUnderCi } from "../support/tools";

/**
 * The API through PgBouncer in transaction mode with ONE server connection:
 * every request of every client runs on that one server session, so whatever
 * session state a request left behind is still there for the next client to
 * trip over, and for this test to find.
 */

/** Parameters PgBouncer itself sets per client (its tracked startup parameters). */
const TRACKED = [
  "client_encoding",
  "DateStyle",
  "TimeZone",
  "standard_conforming_strings",
  "application_name",
];

/** What a server session keeps beyond a transaction: each entry names one leftover. */
async function sessionLeftovers(sql: Sql): Promise<string[]> {
  const [state] = await sql<
    {
      prepared: string[];
      channels: string[];
      advisory: number;
      temp: string[];
      cursors: string[];
      settings: string[];
    }[]
  >`
    SELECT
      ARRAY(SELECT name FROM pg_prepared_statements) AS prepared,
      ARRAY(SELECT pg_listening_channels()) AS channels,
      (SELECT count(*)::int FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()) AS advisory,
      ARRAY(SELECT relname::text FROM pg_class WHERE relpersistence = 't') AS temp,
      ARRAY(SELECT name FROM pg_cursors WHERE is_holdable) AS cursors,
      ARRAY(SELECT name FROM pg_settings WHERE source = 'session' AND name <> ALL(${TRACKED})) AS settings`;
  if (!state) throw new Error("no answer");
  return [
    ...state.prepared.map((name) => `prepared statement ${name}`),
    ...state.channels.map((name) => `LISTEN ${name}`),
    ...(state.advisory > 0 ? [`${state.advisory} session advisory lock(s)`] : []),
    ...state.temp.map((name) => `temporary relation ${name}`),
    ...state.cursors.map((name) => `cursor ${name}`),
    ...state.settings.map((name) => `session SET ${name}`),
  ];
}

const binary = pgbouncerBinary();
if (!binary) requiredUnderCi("pgbouncer is not installed (apt-get install pgbouncer)");

describe.skipIf(!binary)(
  `through PgBouncer in transaction mode, one server connection${binary ? "" : " (skipped: pgbouncer is not installed)"}`,
  () => {
    let db: TestDatabase;
    let bouncer: PgBouncer;
    let server: TestServer;
    let probe: Sql;

    beforeAll(async () => {
      db = await createTestDatabase();
      bouncer = await startPgBouncer({ serverUrl: db.url, users: [db.runtimeUrl], poolSize: 1 });
      const serviceUrl = bouncer.urlFor(db.runtimeUrl);
      server = await startTestServer({
        db: { ...db, serviceUrl, pooled: true },
      });
      probe = createSql({ url: serviceUrl, pooled: true }, { max: 1 });
    });

    afterAll(async () => {
      await server?.stop();
      await probe?.end();
      await bouncer?.closeServerConnections(new URL(db.url).pathname.slice(1));
      await bouncer?.stop();
      await db?.drop();
    });

    it("keeps each client's TimeZone on the one server session they share", async () => {
      const seoul = postgresAt(bouncer.urlFor(db.runtimeUrl), "Asia/Seoul");
      try {
        for (let i = 0; i < 3; i++) {
          const [utc] = await probe<{ tz: string; pid: number }[]>`
            SELECT current_setting('TimeZone') AS tz, pg_backend_pid() AS pid`;
          const [korea] = await seoul<{ tz: string; pid: number }[]>`
            SELECT current_setting('TimeZone') AS tz, pg_backend_pid() AS pid`;
          expect(utc?.tz).toBe("UTC");
          expect(korea?.tz).toBe("Asia/Seoul");
          expect(korea?.pid).toBe(utc?.pid);
        }
      } finally {
        await seoul.end();
      }
    });

    it("the API's accounts, tokens and gateway calls leave no session state behind", async () => {
      const tag = randomBytes(6).toString("hex");
      const created = await server.call("/accounts", {
        method: "POST",
        body: JSON.stringify({
          name: `pooled ${tag}`,
          account_type: "SECURITIES_STOCK",
          exchange: "KIS",
          environment: "real",
          api_key: `PS${tag}`,
          api_secret: `secret-${tag}`,
          securities_config: {
            account_number: "50123456",
            product_code: "01",
            market_type: "DOMESTIC_STOCK",
          },
        }),
      });
      expect(created.status).toBe(201);
      const { id } = (await created.json()) as { id: number };
      const calls = [
        server.call(`/accounts/${id}/token`),
        server.call(`/accounts/${id}`),
        server.call("/accounts"),
        server.call(
          `/accounts/${id}/broker/uapi/domestic-stock/v1/quotations/inquire-price?FID_COND_MRKT_DIV_CODE=J&FID_INPUT_ISCD=005930`,
          { headers: { tr_id: "FHKST01010100" } },
        ),
        server.call("/tokens/status"),
      ];
      const statuses = await Promise.all(calls.map(async (call) => (await call).status));
      expect(statuses).toEqual([200, 200, 200, 200, 200]);
      const renamed = await server.call(`/accounts/${id}`, {
        method: "PATCH",
        body: JSON.stringify({ name: `renamed ${tag}` }),
      });
      expect(renamed.status).toBe(200);
      await server.runtime.gateway.settled();
      expect(await sessionLeftovers(probe)).toEqual([]);
    });

    it("would see a session SET, the session state a transaction pooler cannot carry", async () => {
      await probe`SELECT set_config('work_mem', '8MB', false)`;
      try {
        expect(await sessionLeftovers(probe)).toEqual(["session SET work_mem"]);
      } finally {
        await probe`RESET work_mem`;
      }
    });

    it("would see postgres.js's named prepared statements, which a pooled connection turns off", async () => {
      const unpooled = createSql(bouncer.urlFor(db.runtimeUrl), { max: 1 });
      try {
        await unpooled`SELECT ${1}::int AS one`;
        const leftovers = await sessionLeftovers(probe);
        expect(leftovers.some((entry) => entry.startsWith("prepared statement"))).toBe(true);
      } finally {
        await unpooled.end();
        await probe`DEALLOCATE ALL`;
      }
    });
  },
);

/** A client asking for another time zone in its startup packet, as createSql asks for UTC. */
function postgresAt(url: string, timeZone: string): Sql {
  return postgres(url, { max: 1, prepare: false, connection: { TimeZone: timeZone } }) as Sql;
}

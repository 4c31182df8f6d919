/**
 * The pool's circuit breaker (core/db/availability.ts) against the run's
 * Postgres, reached through a TCP relay of this test's own that can go
 * silent (accept, never answer: a black hole, as a failover can be), hold
 * each new connection back before relaying it, or refuse.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createSql, DatabaseUnavailableError, type Sql } from "../../core/db";
import { DEFAULT_CONNECTION_WAIT_MS } from "../../core/db/availability";
import { createTestDatabase, type TestDatabase } from "../support/database";

type Mode = { kind: "relay" } | { kind: "silent" } | { kind: "hold"; ms: number };

let db: TestDatabase;
let upstream: URL;
let relay: Server;
let mode: Mode = { kind: "relay" };
const sockets = new Set<Socket>();
const pools: Sql[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  upstream = new URL(db.url);
  await db.sql`CREATE TABLE availability_probe (id int)`;
  relay = createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => client.destroy());
    const current = mode;
    if (current.kind === "silent") return;
    const open = () => {
      const server = tcpConnect(Number(upstream.port), upstream.hostname);
      sockets.add(server);
      server.on("close", () => sockets.delete(server));
      server.on("error", () => client.destroy());
      client.on("close", () => server.destroy());
      server.on("close", () => client.destroy());
      client.pipe(server).pipe(client);
    };
    if (current.kind === "hold") setTimeout(open, current.ms);
    else open();
  });
  await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
});

afterEach(async () => {
  for (const pool of pools.splice(0)) await pool.end({ timeout: 0 });
  for (const socket of sockets) socket.destroy();
  mode = { kind: "relay" };
});

afterAll(async () => {
  await new Promise<void>((resolve) => relay?.close(() => resolve()));
  await db?.drop();
});

function pool(): Sql {
  const through = new URL(db.url);
  through.port = String((relay.address() as { port: number }).port);
  const sql = createSql(through.toString(), { max: 2, failFast: {} });
  pools.push(sql);
  return sql;
}

async function failure(work: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = performance.now();
  try {
    await work;
  } catch (error) {
    return { error, ms: performance.now() - started };
  }
  throw new Error("expected the database work to fail");
}

describe("a pool that fails fast", () => {
  it("answers a query that gets no connection within the wait, and the next ones at once", async () => {
    mode = { kind: "silent" };
    const sql = pool();
    const first = await failure(sql`SELECT 1`);
    expect(first.error).toBeInstanceOf(DatabaseUnavailableError);
    // postgres.js alone would wait out its 10 s connect timeout.
    expect(first.ms).toBeGreaterThanOrEqual(DEFAULT_CONNECTION_WAIT_MS - 50);
    expect(first.ms).toBeLessThan(DEFAULT_CONNECTION_WAIT_MS + 500);
    const next = await failure(sql`SELECT 2`);
    expect(next.error).toBeInstanceOf(DatabaseUnavailableError);
    expect(next.ms).toBeLessThan(200);
    const transaction = await failure(sql.begin((tx) => tx`SELECT 3`));
    expect(transaction.error).toBeInstanceOf(DatabaseUnavailableError);
    expect(transaction.ms).toBeLessThan(200);
  });

  it("never runs the body of a transaction it gave up on, even once the connection opens", async () => {
    mode = { kind: "hold", ms: DEFAULT_CONNECTION_WAIT_MS + 500 };
    const sql = pool();
    let ran = false;
    const given = await failure(
      sql.begin(async (tx) => {
        ran = true;
        await tx`INSERT INTO availability_probe VALUES (1)`;
      }),
    );
    expect(given.error).toBeInstanceOf(DatabaseUnavailableError);
    // The held connection opens 500 ms later; wait past it.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(ran).toBe(false);
    const [row] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM availability_probe`;
    expect(row?.n).toBe(0);
  });

  it("serves queries again within 2 s of the database's return, without a restart", async () => {
    mode = { kind: "silent" };
    const sql = pool();
    expect((await failure(sql`SELECT 1`)).error).toBeInstanceOf(DatabaseUnavailableError);
    for (const socket of sockets) socket.destroy();
    mode = { kind: "relay" };
    const back = performance.now();
    let answered: unknown;
    while (performance.now() - back < 5_000) {
      try {
        answered = await sql`SELECT 42 AS answer`;
        break;
      } catch (error) {
        expect(error).toBeInstanceOf(DatabaseUnavailableError);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    expect(answered).toEqual([{ answer: 42 }]);
    expect(performance.now() - back).toBeLessThan(2_000);
  });

  it("leaves a pool without failFast waiting for its connection, as postgres.js does", async () => {
    mode = { kind: "hold", ms: DEFAULT_CONNECTION_WAIT_MS + 300 };
    const through = new URL(db.url);
    through.port = String((relay.address() as { port: number }).port);
    const sql = createSql(through.toString(), { max: 1 });
    pools.push(sql);
    expect(await sql`SELECT 7 AS n`).toEqual([{ n: 7 }]);
  });
});

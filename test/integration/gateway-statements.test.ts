import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSql, type Sql } from "../../core/db";
import { recordCall } from "../../core/gateway/audit";
import { takeCallSlot } from "../../core/gateway/pacing";
import { createTestDatabase, type TestDatabase } from "../support/database";

// The gateway's two per-call statements as migration 0014 leaves them,
// called as the service calls them: as the runtime role, on one connection.
describe("the gateway's per-call statements (migration 0014)", () => {
  let db: TestDatabase;
  let runtime: Sql;
  let accountId: number;

  beforeAll(async () => {
    db = await createTestDatabase();
    runtime = createSql(db.runtimeUrl, { max: 1 });
    const [account] = await db.sql<{ id: number }[]>`
      INSERT INTO accounts (name, exchange) VALUES ('gateway', 'KIS') RETURNING id`;
    accountId = account?.id as number;
  });

  afterAll(async () => {
    await runtime?.end();
    await db?.drop();
  });

  const slot = (key: string, spacingMs: number) =>
    takeCallSlot(runtime, {
      key,
      broker: "KIS",
      environment: "real",
      accountId,
      spacingMs,
      maxWaitMs: 5_000,
    });

  it("answers a free slot with a wait of exactly 0, never a negative one", async () => {
    for (let i = 0; i < 20; i++) {
      const free = await slot(`free-${i}`, 50);
      expect(free?.waitMs).toBe(0);
    }
  });

  it("still spaces the calls of one key: the next slot waits about one spacing", async () => {
    await slot("spaced", 200);
    const next = await slot("spaced", 200);
    expect(next?.waitMs).toBeGreaterThan(150);
    expect(next?.waitMs).toBeLessThanOrEqual(200);
  });

  it("commits without waiting for the disk, and leaves the session's setting as it was", async () => {
    const [before] = await runtime<{ s: string }[]>`SELECT current_setting('synchronous_commit') s`;
    expect(before?.s).toBe("on");
    await slot("setting", 10);
    await recordCall(
      runtime,
      {
        account_id: accountId,
        called_at: new Date(),
        broker: "KIS",
        environment: "real",
        method: "GET",
        path: "/uapi/x",
        transaction_id: "FHKST01010100",
        status: 200,
        broker_code: null,
        latency_ms: 3,
        key_id: "k",
        replayed: false,
      },
      false,
    );
    // The same (only) connection: the off was local to each statement's own transaction.
    const [after] = await runtime<{ s: string }[]>`SELECT current_setting('synchronous_commit') s`;
    expect(after?.s).toBe("on");
    const functions = await db.sql<{ name: string; body: string }[]>`
      SELECT proname AS name, prosrc AS body FROM pg_proc
      WHERE proname IN ('broker_call_slot', 'record_broker_call') ORDER BY proname`;
    expect(functions.map((f) => f.name)).toEqual(["broker_call_slot", "record_broker_call"]);
    for (const f of functions) {
      expect(f.body).toContain("set_config('synchronous_commit', 'off', true)");
    }
    const [audit] = await db.sql<{ calls: number }[]>`
      SELECT calls::int FROM broker_call_totals WHERE account_id = ${accountId}`;
    expect(audit?.calls).toBe(1);
  });
});

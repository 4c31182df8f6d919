import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createSql, type Sql } from "../../core/db";
import {
  appendEvent,
  claimLease,
  eventsSince,
  leaseHolder,
  releaseLeases,
} from "../../core/stream";
import { createTestDatabase, type TestDatabase } from "../support/database";

let db: TestDatabase;
let runtime: Sql;

beforeAll(async () => {
  db = await createTestDatabase();
  runtime = createSql(db.runtimeUrl, { max: 2 });
});

afterAll(async () => {
  await runtime?.end();
  await db?.drop();
});

describe("stream leases", () => {
  test("a lease held by one hub is refused to another until it expires, then taken over", async () => {
    expect(await claimLease(runtime, "k1", "a", 300)).toBe(true);
    expect(await claimLease(runtime, "k1", "b", 300)).toBe(false);
    expect(await claimLease(runtime, "k1", "a", 300)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(await claimLease(runtime, "k1", "b", 300)).toBe(true);
    expect(await leaseHolder(runtime, "k1")).toBe("b");
  });

  test("a released lease is free at once, and a hub cannot release another's", async () => {
    expect(await claimLease(runtime, "k2", "a", 60_000)).toBe(true);
    await releaseLeases(runtime, ["k2"], "b");
    expect(await leaseHolder(runtime, "k2")).toBe("a");
    await releaseLeases(runtime, ["k2"], "a");
    expect(await claimLease(runtime, "k2", "b", 60_000)).toBe(true);
  });
});

describe("stream events", () => {
  const event = (order: string) => ({
    account_id: 7,
    broker: "KIS" as const,
    kind: "notice" as const,
    symbol: "005930",
    at: new Date().toISOString(),
    fields: { ODER_NO: order },
    raw: `raw ${order}`,
  });

  test("events come back after a sequence in order, each once", async () => {
    const first = await appendEvent(runtime, event("1"));
    await appendEvent(runtime, event("2"));
    await appendEvent(runtime, event("2"));
    const after = await eventsSince(runtime, 7, "notice", first.seq as number, 10);
    expect(after.map((e) => e.fields.ODER_NO)).toEqual(["2", "2"]);
    expect(after[0]?.seq).toBeGreaterThan(first.seq as number);
  });

  test("the service's role may append events but never change or delete them", async () => {
    await appendEvent(runtime, event("3"));
    await expect(runtime`UPDATE stream_events SET raw = 'x'`).rejects.toThrow(/permission denied/);
    await expect(runtime`DELETE FROM stream_events`).rejects.toThrow(/permission denied/);
  });
});

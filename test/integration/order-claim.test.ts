import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import type { OrderTerms } from "../../core/brokers";
import { createSql, type Sql } from "../../core/db";
import { takeCallSlot } from "../../core/gateway/pacing";
import { claimIntentWithSlot } from "../../core/orders/intents";
import { createTestDatabase, type TestDatabase } from "../support/database";

// claim_order_slot (migration 0020): the claim and the order's first slot in one statement.

let db: TestDatabase;
let runtime: Sql;
let accountId: number;
let slotKey: string;

const TERMS = { symbol: "005930", side: "buy", quantity: "1", price: "70000" } as OrderTerms;

const claim = (key: string, terms: OrderTerms = TERMS, hash = "h1") =>
  claimIntentWithSlot(
    runtime,
    { accountId, key, hash, terms, keepMs: 86_400_000, staleMs: 30_000 },
    slot(),
  );

const slot = () => ({
  key: slotKey,
  broker: "KIS",
  environment: "real",
  accountId,
  spacingMs: 100,
  maxWaitMs: 5_000,
});

/** The order lane's next free slot, as the database books it. */
async function nextAt(): Promise<Date | undefined> {
  const [row] = await db.sql<{ next_at: Date }[]>`
    SELECT next_at FROM broker_call_pacing WHERE credential_key = ${slotKey}`;
  return row?.next_at;
}

beforeAll(async () => {
  db = await createTestDatabase();
  runtime = createSql(db.runtimeUrl, { max: 2 });
});

beforeEach(async () => {
  const [row] = await db.sql<{ id: number }[]>`
    INSERT INTO accounts (name, exchange, account_type) VALUES ('claims', 'KIS', 'SECURITIES_STOCK')
    RETURNING id`;
  accountId = row?.id as number;
  slotKey = `KIS|real|claims-${accountId}|order`;
});

afterAll(async () => {
  await runtime?.end({ timeout: 5 });
  await db?.drop();
});

describe("claim_order_slot: the claim and the order's first slot in one statement", () => {
  test("a new key is claimed in flight and its slot taken in the same statement", async () => {
    const { claim: claimed, slot: taken } = await claim("new");
    expect(claimed).toEqual({ outcome: "claimed" });
    expect(taken).toMatchObject({ waitMs: 0, active: true, stored: undefined });
    expect(await nextAt()).toBeInstanceOf(Date);
    const [row] = await db.sql`
      SELECT state, symbol, side FROM order_intents WHERE account_id = ${accountId}`;
    expect(row).toEqual({ state: "in_flight", symbol: "005930", side: "buy" });
  });

  test("the claim commits synchronously although the slot alone would not", async () => {
    // broker_call_slot asks for an asynchronous commit; the claim must reach the disk.
    const settings = await runtime.begin(async (tx) => {
      await tx`SELECT * FROM broker_call_slot(${accountId}, ${slotKey}, 'KIS', 'real', 100, 5000)`;
      const [alone] = await tx<{ synchronous_commit: string }[]>`SHOW synchronous_commit`;
      await tx`SELECT * FROM claim_order_slot(${accountId}, 'durable', 'h', '005930', 'buy',
        ${JSON.stringify(TERMS)}::text::jsonb, 86400000, 30000, ${slotKey}, 'KIS', 'real', 100, 5000)`;
      const [claimed] = await tx<{ synchronous_commit: string }[]>`SHOW synchronous_commit`;
      return [alone?.synchronous_commit, claimed?.synchronous_commit];
    });
    expect(settings).toEqual(["off", "on"]);
  });

  test("a replay of the key spends none of the order lane's pace", async () => {
    await claim("replayed");
    await runtime`UPDATE order_intents SET state = 'accepted' WHERE account_id = ${accountId}`;
    const before = await nextAt();
    const { claim: again, slot: taken } = await claim("replayed");
    expect(again).toMatchObject({ outcome: "existing", intent: { state: "accepted" } });
    expect(taken).toBeUndefined();
    expect(await nextAt()).toEqual(before);
  });

  test("another key's unknown order on the same symbol and side holds the claim back, with no slot taken", async () => {
    await claim("lost");
    await runtime`UPDATE order_intents SET state = 'unknown' WHERE account_id = ${accountId}`;
    const before = await nextAt();
    const other = await claim("other", { ...TERMS, quantity: "5" } as OrderTerms);
    expect(other).toEqual({ claim: { outcome: "reconciling" }, slot: undefined });
    expect(await nextAt()).toEqual(before);
    // Another symbol is free.
    const elsewhere = await claim("elsewhere", { ...TERMS, symbol: "000660" } as OrderTerms);
    expect(elsewhere.claim.outcome).toBe("claimed");
  });

  test("a resolved key past its keep_until is claimed afresh, for a new request too", async () => {
    await claim("expired");
    await runtime`
      UPDATE order_intents SET state = 'accepted', keep_until = now() - interval '1 second'
      WHERE account_id = ${accountId}`;
    const again = await claim("expired", { ...TERMS, price: "71000" } as OrderTerms, "h2");
    expect(again.claim).toEqual({ outcome: "claimed" });
    const [row] = await db.sql`
      SELECT state, request_hash FROM order_intents WHERE account_id = ${accountId}`;
    expect(row).toEqual({ state: "in_flight", request_hash: "h2" });
  });

  test("a key in flight for longer than the stale bound is answered as unknown", async () => {
    await claim("stale");
    await runtime`
      UPDATE order_intents SET created_at = now() - interval '1 minute' WHERE account_id = ${accountId}`;
    const again = await claim("stale");
    expect(again.claim).toMatchObject({ outcome: "existing", intent: { state: "unknown" } });
    // A key in flight within the bound is answered as in flight (another symbol: the
    // unknown one above holds this one back).
    const other = { ...TERMS, symbol: "000660" } as OrderTerms;
    await claim("fresh", other);
    const fresh = await claim("fresh", other);
    expect(fresh.claim).toMatchObject({ outcome: "existing", intent: { state: "in_flight" } });
  });

  test("a not_placed key with the same request is claimed again; with another request it is not", async () => {
    await claim("np");
    await runtime`UPDATE order_intents SET state = 'not_placed' WHERE account_id = ${accountId}`;
    const other = await claim("np", TERMS, "different");
    expect(other.claim).toMatchObject({ outcome: "existing", intent: { state: "not_placed" } });
    const same = await claim("np");
    expect(same.claim).toEqual({ outcome: "claimed" });
    expect(same.slot?.waitMs).toBeGreaterThanOrEqual(0);
  });

  test("the plain slot statement still books the same lane", async () => {
    await claim("lane");
    const before = (await nextAt())?.getTime() ?? 0;
    const plain = await takeCallSlot(runtime, slot());
    expect(plain?.waitMs).toBeGreaterThan(0);
    expect((await nextAt())?.getTime()).toBeGreaterThan(before);
  });
});

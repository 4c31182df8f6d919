import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import type { DayOrder } from "../../core/brokers";
import { createSql, type Sql } from "../../core/db";
import { silentLogger } from "../../core/log";
import { bindNoticeOrder } from "../../core/orders";
import { createNoticeBinder } from "../../core/stream/intents";
import { createTestDatabase, type TestDatabase } from "../support/database";

let db: TestDatabase;
let runtime: Sql;
let accountId: number;

const TERMS = { symbol: "005930", side: "buy", quantity: "2", price: "70000", account: {} };
// 2026-12-04 10:00:00 Korea time, and the notice a second later.
const SENT_AT = new Date("2026-12-04T01:00:00Z");
const NOTICE_AT = new Date("2026-12-04T01:00:01Z");
const notice = (change: Partial<DayOrder> = {}): DayOrder => ({
  orderNo: "0000012345",
  symbol: "005930",
  side: "buy",
  quantity: "2",
  price: "70000",
  time: "100001",
  ...change,
});

async function intent(
  key: string,
  state: "unknown" | "in_flight" | "accepted",
  extra: { terms?: object; brokerOrderNo?: string; sentAt?: Date } = {},
) {
  const terms = extra.terms ?? TERMS;
  await runtime`
    INSERT INTO order_intents (account_id, idempotency_key, request_hash, state, symbol, side,
      terms, broker_order_no, sent_at, keep_until)
    VALUES (${accountId}, ${key}, 'hash', ${state}, ${(terms as typeof TERMS).symbol},
      ${(terms as typeof TERMS).side}, ${JSON.stringify(terms)}::text::jsonb,
      ${extra.brokerOrderNo ?? null}, ${extra.sentAt ?? SENT_AT}, now() + interval '1 day')`;
}

async function stateOf(key: string) {
  const [row] = await runtime<
    { state: string; broker_order_no: string | null; resolved: boolean }[]
  >`
    SELECT state, broker_order_no, resolved_at IS NOT NULL AS resolved FROM order_intents
    WHERE account_id = ${accountId} AND idempotency_key = ${key}`;
  return row;
}

const bind = (order = notice()) =>
  bindNoticeOrder(runtime, silentLogger, { accountId, order, at: NOTICE_AT });

beforeAll(async () => {
  db = await createTestDatabase();
  runtime = createSql(db.runtimeUrl, { max: 2 });
});

beforeEach(async () => {
  const [row] = await db.sql<{ id: number }[]>`
    INSERT INTO accounts (name, exchange, account_type) VALUES ('notices', 'KIS', 'SECURITIES_STOCK')
    RETURNING id`;
  accountId = row?.id as number;
});

afterAll(async () => {
  await runtime?.end();
  await db?.drop();
});

describe("execution notices and the gateway's order intents", () => {
  test("a notice with an unknown intent's terms binds it: accepted, with the order number, resolved", async () => {
    await intent("one", "unknown");
    expect(await bind()).toEqual({ outcome: "bound", key: "one" });
    expect(await stateOf("one")).toEqual({
      state: "accepted",
      broker_order_no: "0000012345",
      resolved: true,
    });
  });

  test("two unknown intents with the notice's terms are both left unknown for reconciliation", async () => {
    await intent("first", "unknown");
    await intent("second", "unknown");
    expect(await bind()).toEqual({ outcome: "several", candidates: 2 });
    expect((await stateOf("first"))?.state).toBe("unknown");
    expect((await stateOf("second"))?.state).toBe("unknown");
  });

  test("an intent in flight is never touched, and counts as a candidate beside an unknown one", async () => {
    await intent("flying", "in_flight");
    expect(await bind()).toEqual({ outcome: "in_flight" });
    expect(await stateOf("flying")).toEqual({
      state: "in_flight",
      broker_order_no: null,
      resolved: false,
    });
    await intent("lost", "unknown");
    expect(await bind()).toEqual({ outcome: "several", candidates: 2 });
    expect((await stateOf("lost"))?.state).toBe("unknown");
  });

  test("a notice differing in quantity, price or side binds nothing", async () => {
    await intent("terms", "unknown");
    for (const change of [{ quantity: "3" }, { price: "70100" }, { side: "sell" as const }])
      expect(await bind(notice(change))).toEqual({ outcome: "none" });
    expect((await stateOf("terms"))?.state).toBe("unknown");
  });

  test("a notice timed before the intent's send binds nothing; at the send's second it binds", async () => {
    await intent("early", "unknown");
    expect(await bind(notice({ time: "095959" }))).toEqual({ outcome: "none" });
    expect(await bind(notice({ time: "100000" }))).toEqual({ outcome: "bound", key: "early" });
  });

  test("an order number bound to another intent binds nothing", async () => {
    await intent("done", "accepted", { brokerOrderNo: "0000012345" });
    await intent("waiting", "unknown");
    expect(await bind()).toEqual({ outcome: "none" });
    expect((await stateOf("waiting"))?.state).toBe("unknown");
  });

  test("an intent sent on an earlier Korea day is not matched by today's notice", async () => {
    await intent("yesterday", "unknown", { sentAt: new Date("2026-12-03T00:59:00Z") });
    expect(await bind()).toEqual({ outcome: "none" });
    expect((await stateOf("yesterday"))?.state).toBe("unknown");
  });

  test("the hub's binder looks again while the one candidate is in flight, and binds once its answer is lost", async () => {
    await intent("late", "in_flight");
    const binder = createNoticeBinder({ sql: runtime, logger: silentLogger });
    binder.noticed(accountId, {
      kind: "notice",
      symbol: "005930",
      accountNumber: "50123456",
      at: NOTICE_AT,
      fields: {},
      raw: "",
      order: notice(),
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await stateOf("late"))?.state).toBe("in_flight");
    await runtime`
      UPDATE order_intents SET state = 'unknown'
      WHERE account_id = ${accountId} AND idempotency_key = 'late'`;
    const deadline = Date.now() + 3_000;
    while ((await stateOf("late"))?.state !== "accepted" && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    await binder.close();
    expect(await stateOf("late")).toEqual({
      state: "accepted",
      broker_order_no: "0000012345",
      resolved: true,
    });
  });
});

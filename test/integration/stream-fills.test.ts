import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import type { DayOrder } from "../../core/brokers";
import type { NoticeFill } from "../../core/brokers/stream-types";
import { createSql, type Sql } from "../../core/db";
import type { StreamEvent } from "../../core/stream/events";
import { catchUpFills, orderKey, recordFill, tradeDate } from "../../core/stream/fills";
import { createTestDatabase, type TestDatabase } from "../support/database";

/**
 * The rule that keeps a fill from being stored twice when a catch-up from
 * the day orders and the fill's own notice both see it (migration 0021),
 * on real Postgres as the runtime role.
 */
let db: TestDatabase;
let runtime: Sql;
let accountId: number;

// 2026-12-04 10:00:00 Korea time: the catch-up reads from 10:00:05.000 to 10:00:05.400.
const READ = {
  date: new Date("2026-12-04T01:00:05Z"),
  from: new Date("2026-12-04T01:00:05.000Z"),
  to: new Date("2026-12-04T01:00:05.400Z"),
};
/** A notice's fill time is a whole second (HHMMSS). */
const at = (second: number) => new Date(Date.UTC(2026, 11, 4, 1, 0, second)).toISOString();

const dayOrder = (filled: string, orderNo = "0000012345"): DayOrder => ({
  orderNo,
  symbol: "005930",
  side: "buy",
  quantity: "10",
  price: "70000",
  time: "100000",
  filled,
});

function notice(broker: "KIS" | "KIWOOM", second: number): StreamEvent & { account_id: number } {
  return {
    account_id: accountId,
    broker,
    kind: "notice",
    symbol: "005930",
    at: at(second),
    fields: { ODER_NO: "0000012345" },
    raw: "frame",
  };
}

const fill = (quantity: number, total?: number): NoticeFill => ({
  orderNo: "0000012345",
  quantity,
  ...(total === undefined ? {} : { total }),
});

/** A catch-up of one order (12345 by default): KIS's rule (no running totals) unless `running`; its event, if any. */
const catchUp = async (filled: string, read = READ, running = false, orderNo = "0000012345") =>
  (
    await catchUpFills(
      runtime,
      { account_id: accountId, broker: running ? "KIWOOM" : "KIS" },
      { accountId, ...read },
      [dayOrder(filled, orderNo)],
      running,
    )
  )[0];

async function storedFills() {
  const rows = await runtime<{ fill: Record<string, unknown> }[]>`
    SELECT fill FROM stream_events WHERE account_id = ${accountId} AND fill IS NOT NULL ORDER BY seq`;
  return rows.map((row) => row.fill);
}

beforeAll(async () => {
  db = await createTestDatabase();
  runtime = createSql(db.runtimeUrl, { max: 2 });
});

beforeEach(async () => {
  const [row] = await db.sql<{ id: number }[]>`
    INSERT INTO accounts (name, exchange, account_type) VALUES ('fills', 'KIS', 'SECURITIES_STOCK')
    RETURNING id`;
  accountId = row?.id ?? 0;
});

afterAll(async () => {
  await runtime?.end();
  await db?.drop();
});

describe("a catch-up of several orders in one call", () => {
  test("stores an event for each order with shares missing, none for the others", async () => {
    await recordFill(runtime, notice("KIS", 1), fill(2));
    const events = await catchUpFills(
      runtime,
      { account_id: accountId, broker: "KIS" },
      { accountId, ...READ },
      [dayOrder("4", "0000012347"), dayOrder("2"), dayOrder("3", "0000012346")],
      false,
    );
    expect(
      events.map((event) => [event.fill?.order_no, event.fill?.quantity, event.symbol]),
    ).toEqual([
      ["12346", 3, "005930"],
      ["12347", 4, "005930"],
    ]);
    expect(events[0]?.fields).toMatchObject({ order_number: "0000012346", filled_total: "3" });
  });
});

describe("order keys and trade dates", () => {
  test("an order number is compared without its leading zeros; the date is Korea's", () => {
    expect(orderKey("0000012345")).toBe("12345");
    expect(orderKey(" 12345 ")).toBe("12345");
    expect(orderKey("0000000000")).toBe("0");
    // 23:30 UTC on the 3rd is 08:30 on the 4th in Korea.
    expect(tradeDate(new Date("2026-12-03T23:30:00Z"))).toBe("2026-12-04");
  });
});

describe("a catch-up", () => {
  test("stores what the notices did not account for, once, and nothing when none is missing", async () => {
    await recordFill(runtime, notice("KIS", 1), fill(3));
    const first = await catchUp("7");
    expect(first?.fill).toEqual({
      source: "catch_up",
      order_no: "12345",
      quantity: 4,
      filled_total: 7,
    });
    expect(first?.fields).toMatchObject({
      source: "catch_up",
      order_number: "0000012345",
      filled_total: "7",
    });
    expect(await catchUp("7")).toBeUndefined();
    expect(await catchUp("5")).toBeUndefined();
    expect((await storedFills()).map((f) => f.quantity)).toEqual([3, 4]);
  });

  test("of an order filled nowhere else stores the whole total", async () => {
    const event = await catchUp("10");
    expect(event?.fill).toMatchObject({ quantity: 10, filled_total: 10 });
    expect(event?.at).toBe(READ.to.toISOString());
  });
});

describe("a KIS catch-up (notices without running totals)", () => {
  test("counts only the fills told from before its read ended: later ones do not hide a missing one", async () => {
    await recordFill(runtime, notice("KIS", 1), fill(2));
    // A fill of 3 (second 3) was never told; one of 4 came after the read (second 7).
    await recordFill(runtime, notice("KIS", 7), fill(4));
    const event = await catchUp("5");
    expect(event?.fill).toEqual({
      source: "catch_up",
      order_no: "12345",
      quantity: 3,
      filled_total: 9,
    });
  });

  test("counts a fill told in its read's own second as before it: a missing share waits, none is told twice", async () => {
    await recordFill(runtime, notice("KIS", 5), fill(2));
    // The broker's total (2) may or may not hold that fill: nothing is added now.
    expect(await catchUp("2")).toBeUndefined();
    // The next read (a second later) holds it for sure, and a share that was missing.
    const next = new Date(READ.to.getTime() + 1_000);
    const event = await catchUp("3", { date: next, from: next, to: next });
    expect(event?.fill).toMatchObject({ quantity: 1, filled_total: 3 });
  });
});

describe("a KIS notice (no running total) after a catch-up", () => {
  test("is covered when its fill second ended before the read began", async () => {
    await catchUp("2");
    expect(await recordFill(runtime, notice("KIS", 4), fill(2))).toBeUndefined();
    expect(await storedFills()).toHaveLength(1);
  });

  test("is stored but flagged uncertain when its second overlaps the read", async () => {
    await catchUp("2");
    const event = await recordFill(runtime, notice("KIS", 5), fill(2));
    expect(event?.fill).toEqual({
      source: "notice",
      order_no: "12345",
      quantity: 2,
      filled_total: 4,
      uncertain: true,
    });
  });

  test("is stored as new when it came after the read's answer", async () => {
    await catchUp("2");
    const event = await recordFill(runtime, notice("KIS", 6), fill(3));
    expect(event?.fill).toEqual({
      source: "notice",
      order_no: "12345",
      quantity: 3,
      filled_total: 5,
    });
  });
});

describe("Kiwoom (notices with running totals)", () => {
  test("a catch-up compares with the latest total told, whenever its fills came", async () => {
    await recordFill(runtime, notice("KIWOOM", 7), fill(6, 6));
    expect(await catchUp("5", READ, true)).toBeUndefined();
    expect((await catchUp("8", READ, true))?.fill).toMatchObject({ quantity: 2, filled_total: 8 });
  });

  test("a notice is covered when the total is not above the stored one, and adds the difference when it is", async () => {
    await catchUp("4", READ, true);
    expect(await recordFill(runtime, notice("KIWOOM", 9), fill(2, 4))).toBeUndefined();
    // 3 more filled, but the total says 9: the fill of 2 in between was never told either.
    const event = await recordFill(runtime, notice("KIWOOM", 9), fill(3, 9));
    expect(event?.fill).toMatchObject({ source: "notice", quantity: 5, filled_total: 9 });
  });
});

describe("with no catch-up", () => {
  test("every KIS notice adds its fill to the order's running total", async () => {
    await recordFill(runtime, notice("KIS", 1), fill(1));
    const second = await recordFill(runtime, notice("KIS", 1), fill(1));
    expect(second?.fill).toMatchObject({ quantity: 1, filled_total: 2 });
  });

  test("two orders of one day are kept apart, and one order number on two days too", async () => {
    await catchUp("1");
    const other = await catchUp("1", READ, false, "0000012346");
    expect(other?.fill).toMatchObject({ order_no: "12346", quantity: 1 });
    const nextDay = new Date(READ.date.getTime() + 86_400_000);
    const later = await catchUp("1", { date: nextDay, from: nextDay, to: nextDay });
    expect(later?.fill).toMatchObject({ order_no: "12345", quantity: 1, filled_total: 1 });
  });
});

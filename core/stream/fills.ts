import { type DayOrder, formatKoreaTime } from "../brokers";
import type { NoticeFill } from "../brokers/stream-types";
import type { Sql } from "../db";
import type { StreamEvent, StreamFill } from "./events";

/**
 * Where a notice's fill and a catch-up meet (migration 0021): each moves the
 * order's mark under its row lock, so a fill is stored once whichever of the
 * two sees it first. docs/api.md "Fills the hub did not hear" has the rule.
 */

/** An order number without leading zeros: notices and day orders may pad it differently. */
export const orderKey = (orderNo: string) => orderNo.trim().replace(/^0+(?=\d)/, "");

/** The Korea trade date of an instant, as a DATE literal (order numbers restart each day). */
export function tradeDate(instant: Date): string {
  const compact = formatKoreaTime(instant, "compact");
  return `${compact.slice(0, 4)}-${compact.slice(4, 6)}-${compact.slice(6, 8)}`;
}

/**
 * A live notice's fill: stored with what it adds to the order's total, or
 * undefined when a catch-up already counted it (nothing stored).
 */
export async function recordFill(
  sql: Sql,
  event: StreamEvent & { account_id: number },
  fill: NoticeFill,
): Promise<StreamEvent | undefined> {
  const [row] = await sql<{ seq: string; fill: StreamFill }[]>`
    SELECT seq, fill FROM stream_record_fill(
      ${event.account_id}, ${event.broker}, ${event.symbol}, ${event.at}, ${sql.json(event.fields)},
      ${event.raw}, ${tradeDate(new Date(event.at))}, ${orderKey(fill.orderNo)}, ${fill.quantity},
      ${fill.total ?? null})`;
  return row ? { ...event, seq: Number(row.seq), fill: row.fill } : undefined;
}

/** When a catch-up read the day orders: from the query's send to its answer. */
export interface CatchUpRead {
  accountId: number;
  date: Date;
  from: Date;
  to: Date;
}

/**
 * What the stored events told of each of the account's orders of one
 * trade day, by order key, as a catch-up compares it with the day orders
 * (stream_catch_up_fill does the same, locked): with running totals the
 * mark, without them the fills from up to the read's end.
 */
export async function toldTotals(
  sql: Sql,
  read: CatchUpRead,
  running: boolean,
): Promise<Map<string, number>> {
  const rows = running
    ? await sql<{ order_no: string; told: string }[]>`
        SELECT order_no, filled_total AS told FROM stream_fill_marks
        WHERE account_id = ${read.accountId} AND trade_date = ${tradeDate(read.date)}`
    : await sql<{ order_no: string; told: string }[]>`
        SELECT order_no, sum(quantity) AS told FROM stream_fills
        WHERE account_id = ${read.accountId} AND trade_date = ${tradeDate(read.date)}
          AND filled_at <= ${read.to}
        GROUP BY order_no`;
  return new Map(rows.map((row) => [row.order_no, Number(row.told)]));
}

/**
 * One day order of a catch-up: stores a notice event with the filled
 * quantity the stored notices do not account for, or undefined when none is missing.
 */
export async function catchUpFill(
  sql: Sql,
  base: Omit<StreamEvent, "seq" | "fields" | "raw" | "symbol" | "at" | "kind">,
  read: CatchUpRead,
  order: DayOrder,
  running: boolean,
): Promise<StreamEvent | undefined> {
  const fields = catchUpFields(order);
  const raw = JSON.stringify(order);
  const [row] = await sql<{ seq: string; fill: StreamFill }[]>`
    SELECT seq, fill FROM stream_catch_up_fill(
      ${read.accountId}, ${base.broker}, ${order.symbol}, ${sql.json(fields)}, ${raw},
      ${tradeDate(read.date)}, ${orderKey(order.orderNo)}, ${Number(order.filled)},
      ${read.from}, ${read.to}, ${running})`;
  if (!row) return undefined;
  return {
    ...base,
    seq: Number(row.seq),
    kind: "notice",
    symbol: order.symbol,
    at: read.to.toISOString(),
    fields,
    raw,
    fill: row.fill,
  };
}

/** A catch-up event's fields: the day order as the hub read it, in one shape for both brokers. */
function catchUpFields(order: DayOrder): Record<string, string> {
  return {
    source: "catch_up",
    order_number: order.orderNo,
    symbol: order.symbol,
    side: order.side,
    order_quantity: order.quantity,
    order_price: order.price,
    order_time: order.time,
    filled_total: order.filled ?? "0",
  };
}

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
 * A catch-up's filled orders, in one call (stream_catch_up_fills): for each,
 * a notice event with the shares the stored fills do not account for; none
 * for an order with nothing missing. `running`: the broker's notices carry
 * running totals (StreamProtocol.noticeTotals).
 */
export async function catchUpFills(
  sql: Sql,
  base: Omit<StreamEvent, "seq" | "fields" | "raw" | "symbol" | "at" | "kind">,
  read: CatchUpRead,
  orders: readonly DayOrder[],
  running: boolean,
): Promise<StreamEvent[]> {
  // By order number: two catch-ups of one account take the orders' locks in the same order.
  const payload = orders
    .map((order) => ({
      order_no: orderKey(order.orderNo),
      symbol: order.symbol,
      total: Number(order.filled),
      fields: catchUpFields(order),
      raw: JSON.stringify(order),
    }))
    .sort((a, b) => a.order_no.localeCompare(b.order_no));
  const byKey = new Map(payload.map((item) => [item.order_no, item]));
  const rows = await sql<{ seq: string; fill: StreamFill }[]>`
    SELECT seq, fill FROM stream_catch_up_fills(
      ${read.accountId}, ${base.broker}, ${tradeDate(read.date)}, ${read.from}, ${read.to},
      ${running}, ${sql.json(payload)})`;
  return rows.map((row) => {
    const order = byKey.get(row.fill.order_no);
    return {
      ...base,
      seq: Number(row.seq),
      kind: "notice" as const,
      symbol: order?.symbol ?? null,
      at: read.to.toISOString(),
      fields: order?.fields ?? {},
      raw: order?.raw ?? "",
      fill: row.fill,
    };
  });
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

import type { Broker } from "../brokers";
import type { StreamKind } from "../brokers/stream-types";
import type { Sql } from "../db";

/** What a client receives: one shape for both brokers. */
export interface StreamEvent {
  /** Set for stored events (notices, balance): resume after it with `since`. */
  seq?: number;
  account_id: number | null;
  broker: Broker;
  kind: StreamKind;
  symbol: string | null;
  at: string;
  fields: Record<string, string>;
  raw: string;
  /** What a notice filled, for notices that fill (live or caught up); see StreamFill. */
  fill?: StreamFill;
}

/**
 * The fill a notice adds to the store, one shape for both brokers: `quantity`
 * new shares of `order_no`, `filled_total` after it. `source` "notice" is a
 * broker frame, "catch_up" what the day orders showed filled that no frame
 * had (a fill during an outage). `uncertain`: a KIS fill in the second a
 * catch-up read the day orders, which that catch-up's total may already hold.
 */
export interface StreamFill {
  source: "notice" | "catch_up";
  order_no: string;
  quantity: number;
  filled_total: number;
  uncertain?: true;
}

/** Appends a notice or balance event; returns it with its sequence. */
export async function appendEvent(
  sql: Sql,
  event: StreamEvent & { account_id: number },
): Promise<StreamEvent> {
  const [row] = await sql<{ seq: string }[]>`
    INSERT INTO stream_events (account_id, broker, kind, symbol, event_at, fields, raw)
    VALUES (${event.account_id}, ${event.broker}, ${event.kind}, ${event.symbol}, ${event.at},
            ${sql.json(event.fields)}, ${event.raw})
    RETURNING seq`;
  return { ...event, seq: Number(row?.seq) };
}

/** The account's stored events of `kind` after `since`, oldest first, at most `limit`. */
export async function eventsSince(
  sql: Sql,
  accountId: number,
  kind: StreamKind,
  since: number,
  limit: number,
): Promise<StreamEvent[]> {
  const rows = await sql<
    {
      seq: string;
      account_id: number;
      broker: Broker;
      kind: StreamKind;
      symbol: string | null;
      event_at: Date;
      fields: Record<string, string>;
      raw: string;
      fill: StreamFill | null;
    }[]
  >`
    SELECT seq, account_id, broker, kind, symbol, event_at, fields, raw, fill FROM stream_events
    WHERE account_id = ${accountId} AND kind = ${kind} AND seq > ${since}
    ORDER BY seq LIMIT ${limit}`;
  return rows.map((row) => ({
    seq: Number(row.seq),
    account_id: row.account_id,
    broker: row.broker,
    kind: row.kind,
    symbol: row.symbol,
    at: row.event_at.toISOString(),
    fields: row.fields,
    raw: row.raw,
    ...(row.fill ? { fill: row.fill } : {}),
  }));
}

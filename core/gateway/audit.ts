import type { Sql } from "../db";
import { intentCounts } from "../orders/intents";
import { transactionId } from "./request";

/**
 * One forwarded call as the audit row and the log line both carry it (the
 * table's column names): never a body, a header value or the query.
 */
export interface CallRecord {
  account_id: number;
  called_at: Date;
  broker: string;
  environment: string;
  method: string;
  /** The broker path without its query (queries can carry account numbers). */
  path: string;
  /** KIS tr_id or Kiwoom api-id. */
  transaction_id: string | null;
  /** The broker's HTTP status; 0 when it did not answer. */
  status: number;
  /** The broker's code when it reported an error (EGW00201, 8005…). */
  broker_code: string | null;
  latency_ms: number;
  key_id: string | null;
  /** True for the one replay after a token rejection. */
  replayed: boolean;
  /** An order's Idempotency-Key (the order call and the day-order queries that reconcile it). */
  idempotency_key?: string;
  /** The intent's state this call left it in (in_flight, accepted, unknown, …). */
  order_state?: string;
  /**
   * The gateway's own pacing refused the call (its slot booked past the wait
   * bound, before the wire or at it): the broker never saw it, status 0, not
   * a failed call.
   */
  refused?: boolean;
}

/** The audit row as it stands before the broker answers: status 0, no broker code, no latency yet. */
export function callRecord(
  request: { accountId: number; method: string; keyId: string | undefined },
  key: { broker: string; environment: string },
  path: string,
  forwarded: Record<string, string>,
  replayed: boolean,
): CallRecord {
  return {
    account_id: request.accountId,
    called_at: new Date(),
    broker: key.broker,
    environment: key.environment,
    method: request.method,
    path,
    transaction_id: transactionId(forwarded),
    status: 0,
    broker_code: null,
    latency_ms: 0,
    key_id: request.keyId ?? null,
    replayed,
  };
}

/** The row with an order's Idempotency-Key and the intent's state, when the call is an order's. */
export function withOrder(record: CallRecord, order?: { key: string; state: string }): CallRecord {
  return order ? { ...record, idempotency_key: order.key, order_state: order.state } : record;
}

/**
 * Appends the audit row and moves the account's totals, in one statement
 * (record_broker_call, defined now by migration 0014; docs/operations.md).
 */
export async function recordCall(sql: Sql, call: CallRecord, failed: boolean): Promise<void> {
  await sql`SELECT record_broker_call(${JSON.stringify(call)}::text::jsonb, ${failed})`;
}

/** Per account: calls through the gateway and the last broker error. */
export interface AccountCallStatus {
  account_id: number;
  calls: number;
  failed_calls: number;
  /** Calls the gateway's own pacing refused (429, never sent): counted in calls, never in failed_calls. */
  refused_calls: number;
  last_call_at: string | null;
  last_error: { at: string; status: number; broker_code: string | null; path: string } | null;
}

export interface GatewayStatusReport {
  accounts: AccountCallStatus[];
  totals: { calls: number; failed_calls: number; refused_calls: number };
  /** Order intents whose outcome is unknown (and how long the oldest has been) or ambiguous. */
  orders: { unknown: number; ambiguous: number; oldest_unknown_seconds: number | null };
}

/** The status route's view, built by broker_call_status (migration 0019): one entry per account that has called. */
export async function gatewayStatus(sql: Sql): Promise<GatewayStatusReport> {
  const [calls, orders] = await Promise.all([
    sql`SELECT broker_call_status() r`.then((rows) => rows[0]?.r),
    intentCounts(sql),
  ]);
  return { ...calls, orders };
}

import type { OrderTerms } from "../brokers";
import type { Sql } from "../db";
import { type CallSlot, type SlotRequest, type SlotRow, slotOf } from "../gateway/pacing";

/** Where an order intent stands (docs/api.md "Orders"). */
export type IntentState =
  | "in_flight"
  | "accepted"
  | "rejected"
  | "unknown"
  | "not_placed"
  | "ambiguous";

/** The broker's answer as the caller got it, kept for replays. */
export interface StoredAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface Intent {
  accountId: number;
  key: string;
  state: IntentState;
  requestHash: string;
  answer: StoredAnswer | null;
  brokerOrderNo: string | null;
  createdAt: Date;
  sentAt: Date | null;
  resolvedAt: Date | null;
  terms: OrderTerms | null;
  reconcileChecks: number;
}

interface IntentRow {
  account_id: number;
  idempotency_key: string;
  state: IntentState;
  request_hash: string;
  answer: StoredAnswer | null;
  broker_order_no: string | null;
  created_at: Date;
  sent_at: Date | null;
  resolved_at: Date | null;
  terms: OrderTerms | null;
  reconcile_checks: number;
}

function intentOf(row: IntentRow): Intent {
  return {
    accountId: row.account_id,
    key: row.idempotency_key,
    state: row.state,
    requestHash: row.request_hash,
    answer: row.answer,
    brokerOrderNo: row.broker_order_no,
    createdAt: row.created_at,
    sentAt: row.sent_at,
    resolvedAt: row.resolved_at,
    terms: row.terms,
    reconcileChecks: row.reconcile_checks,
  };
}

/** What claim_order_intent (migration 0017) decided. */
export type Claim =
  | { outcome: "claimed" }
  | { outcome: "reconciling" }
  | { outcome: "existing"; intent: Intent };

/** What a claim needs: the key, the request's hash and terms, how long to keep it, when in flight is stale. */
export interface ClaimRequest {
  accountId: number;
  key: string;
  hash: string;
  terms: OrderTerms | undefined;
  keepMs: number;
  staleMs: number;
}

type ClaimRow = Omit<IntentRow, "account_id" | "idempotency_key" | "reconcile_checks"> & {
  outcome: string;
};

/**
 * Claims (account, key) for one send and, only when claimed, takes the
 * order's first pacing slot: ONE statement (claim_order_slot, migration
 * 0020), committed durably before the order goes out.
 */
export async function claimIntentWithSlot(
  sql: Sql,
  claim: ClaimRequest,
  slot: SlotRequest,
): Promise<{ claim: Claim; slot: CallSlot | undefined }> {
  const { terms } = claim;
  const [row] = await sql<(ClaimRow & SlotRow)[]>`
    SELECT * FROM claim_order_slot(${claim.accountId}, ${claim.key}, ${claim.hash},
      ${terms?.symbol ?? null}, ${terms?.side ?? null},
      ${terms ? JSON.stringify(terms) : null}::text::jsonb, ${claim.keepMs}, ${claim.staleMs},
      ${slot.key}, ${slot.broker}, ${slot.environment}, ${slot.spacingMs}, ${slot.maxWaitMs})
  `;
  return { claim: claimOf(claim, row), slot: slotOf(row) };
}

function claimOf(claim: ClaimRequest, row: ClaimRow | undefined): Claim {
  if (!row || row.outcome === "reconciling") return { outcome: "reconciling" };
  if (row.outcome === "claimed") return { outcome: "claimed" };
  return {
    outcome: "existing",
    intent: intentOf({
      ...row,
      account_id: claim.accountId,
      idempotency_key: claim.key,
      reconcile_checks: 0,
    }),
  };
}

/** The broker answered: the final state, its answer and order number (only from in_flight); committed asynchronously. */
export async function finishIntent(
  sql: Sql,
  accountId: number,
  key: string,
  outcome: {
    state: IntentState;
    answer: StoredAnswer | null;
    brokerOrderNo: string | null;
    sentAt: Date | undefined;
  },
): Promise<void> {
  const resolved = outcome.state !== "unknown" && outcome.state !== "in_flight";
  // Committed without waiting for the WAL flush (as the audit rows are): if the
  // database loses it in a crash, the intent stays in flight, goes stale, becomes
  // unknown and is reconciled from the broker's day orders. The claim, which is
  // what stops a second order, is always durable.
  await sql`
    WITH quiet AS (SELECT set_config('synchronous_commit', 'off', true))
    UPDATE order_intents
    SET state = ${outcome.state},
        answer = ${outcome.answer ? JSON.stringify(outcome.answer) : null}::text::jsonb,
        broker_order_no = ${outcome.brokerOrderNo},
        sent_at = ${outcome.sentAt ?? null},
        resolved_at = CASE WHEN ${resolved} THEN clock_timestamp() END
    FROM quiet
    WHERE account_id = ${accountId} AND idempotency_key = ${key} AND state = 'in_flight'
  `;
}

/** The call never left: the key is free again, as if never used. */
export async function releaseIntent(sql: Sql, accountId: number, key: string): Promise<void> {
  await sql`
    DELETE FROM order_intents
    WHERE account_id = ${accountId} AND idempotency_key = ${key} AND state = 'in_flight'
  `;
}

export async function readIntent(
  sql: Sql,
  accountId: number,
  key: string,
): Promise<Intent | undefined> {
  const [row] = await sql<IntentRow[]>`
    SELECT * FROM order_intents WHERE account_id = ${accountId} AND idempotency_key = ${key}
  `;
  return row && intentOf(row);
}

/**
 * Reconciliation's verdict on an unknown intent: accepted (with the order
 * number), not_placed or ambiguous; or still unknown with one more check
 * counted. Only an intent still unknown changes; false when it was not.
 */
export async function resolveIntent(
  sql: Sql,
  intent: Intent,
  verdict: { state: IntentState; brokerOrderNo?: string },
): Promise<boolean> {
  const rows = await sql`
    UPDATE order_intents
    SET state = ${verdict.state}, broker_order_no = ${verdict.brokerOrderNo ?? null},
        reconcile_checks = reconcile_checks + 1,
        resolved_at = CASE WHEN ${verdict.state} = 'unknown' THEN NULL ELSE clock_timestamp() END
    WHERE account_id = ${intent.accountId} AND idempotency_key = ${intent.key}
      AND state = 'unknown'
    RETURNING 1
  `;
  return rows.length > 0;
}

/** The account's intents in flight or unknown with this symbol and side, oldest first. */
export async function openIntents(
  sql: Sql,
  accountId: number,
  symbol: string,
  side: string,
): Promise<Intent[]> {
  const rows = await sql<IntentRow[]>`
    SELECT * FROM order_intents
    WHERE account_id = ${accountId} AND symbol = ${symbol} AND side = ${side}
      AND state IN ('in_flight', 'unknown')
    ORDER BY created_at
  `;
  return rows.map(intentOf);
}

/** The broker order numbers bound to the account's other intents. */
export async function boundOrderNumbers(
  sql: Sql,
  accountId: number,
  exceptKey: string,
): Promise<Set<string>> {
  const rows = await sql<{ broker_order_no: string }[]>`
    SELECT broker_order_no FROM order_intents
    WHERE account_id = ${accountId} AND broker_order_no IS NOT NULL
      AND idempotency_key <> ${exceptKey}
  `;
  return new Set(rows.map((row) => row.broker_order_no));
}

/**
 * Unknown intents (and those in flight for longer than `staleMs`, made
 * unknown here), oldest first: the refresh job's leftovers.
 */
export async function unresolvedIntents(
  sql: Sql,
  staleMs: number,
  limit: number,
): Promise<Intent[]> {
  await sql`
    UPDATE order_intents SET state = 'unknown', sent_at = coalesce(sent_at, created_at)
    WHERE state = 'in_flight' AND created_at < clock_timestamp() - ${staleMs} * interval '1 millisecond'
  `;
  const rows = await sql<IntentRow[]>`
    SELECT * FROM order_intents WHERE state = 'unknown' ORDER BY sent_at LIMIT ${limit}
  `;
  return rows.map(intentOf);
}

/** Drops resolved intents past their keep_until. */
export async function dropExpiredIntents(sql: Sql): Promise<number> {
  const rows = await sql`
    DELETE FROM order_intents
    WHERE keep_until < clock_timestamp() AND state NOT IN ('in_flight', 'unknown')
    RETURNING 1
  `;
  return rows.length;
}

/** Counts for /broker/status and the alarms: unknown and ambiguous intents, and the oldest unknown's age. */
export async function intentCounts(
  sql: Sql,
): Promise<{ unknown: number; ambiguous: number; oldest_unknown_seconds: number | null }> {
  const [row] = await sql<{ unknown: number; ambiguous: number; oldest: number | null }[]>`
    SELECT count(*) FILTER (WHERE state = 'unknown')::int AS unknown,
           count(*) FILTER (WHERE state = 'ambiguous')::int AS ambiguous,
           extract(epoch FROM clock_timestamp() - min(sent_at) FILTER (WHERE state = 'unknown'))::float8 AS oldest
    FROM order_intents WHERE state IN ('unknown', 'ambiguous')
  `;
  return {
    unknown: row?.unknown ?? 0,
    ambiguous: row?.ambiguous ?? 0,
    oldest_unknown_seconds: row?.oldest == null ? null : Math.round(row.oldest),
  };
}

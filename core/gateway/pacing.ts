import {
  BROKER_ADAPTERS,
  type Broker,
  type BrokerEnvironment,
  type BrokerSettings,
} from "../brokers";
import type { Sql } from "../db";
import type { StoredToken } from "../tokens";

/** What one pacing statement answers: the slot (or a refusal) and the account's token row. */
export interface CallSlot {
  /** Milliseconds to wait before sending; null when the slot is further away than allowed. */
  waitMs: number | null;
  /** How far away the key's next free slot was: the Retry-After of a refusal. */
  queuedMs: number | null;
  updatedAt: Date;
  active: boolean;
  /** The account's token row, as getValidToken takes it; undefined when it has none. */
  stored: StoredToken | undefined;
}

/**
 * Takes the next call slot of an app key and reads the account's token, in
 * ONE statement: the database function broker_call_slot (defined now by
 * migration 0014; docs/operations.md lists where each function's current
 * definition lives) paces on the database's clock, so calls of one key leave at least
 * `spacingMs` apart whatever process sends them. `waitMs` is null when the
 * slot is more than `maxWaitMs` away (nothing changed then). Undefined when
 * there is no such account.
 */
export async function takeCallSlot(sql: Sql, slot: SlotRequest): Promise<CallSlot | undefined> {
  const [row] = await sql<SlotRow[]>`
    SELECT * FROM broker_call_slot(${slot.accountId}, ${slot.key}, ${slot.broker},
      ${slot.environment}, ${slot.spacingMs}, ${slot.maxWaitMs})
  `;
  return slotOf(row);
}

/** Which slot to take: the app key's lane, its spacing and the wait bound. */
export interface SlotRequest {
  key: string;
  broker: string;
  environment: string;
  accountId: number;
  spacingMs: number;
  maxWaitMs: number;
}

/** broker_call_slot's row (claim_order_slot's carries the same columns). */
export type SlotRow = Omit<CallSlot, "stored"> & StoredToken;

/** The slot from its row; undefined when there is no such account. */
export function slotOf(row: SlotRow | undefined): CallSlot | undefined {
  // The row is the token row too (its extra fields do no harm there).
  return row?.updatedAt ? { ...row, stored: row.ciphertext === null ? undefined : row } : undefined;
}

/** Orders pace in their own lane, never behind queries (adapter orderCallsPerSecond). */
export type CallLane = "order" | "query";

/**
 * Spacing of an app key's calls in a lane: N calls per (1000 ms + jitter
 * allowance). Where the broker counts orders and queries together (KIS), the
 * order lane's share is taken from the queries'; otherwise (Kiwoom) each has
 * its own budget.
 */
export function laneSpacingMs(
  settings: BrokerSettings,
  key: { broker: Broker; environment: BrokerEnvironment },
  lane: CallLane,
): number {
  const own = settings.brokers[key.broker];
  const total = own.callsPerSecond[key.environment];
  const orders = Math.min(own.orderCallsPerSecond[key.environment], total);
  const shared = BROKER_ADAPTERS[key.broker].orderCallsPerSecond.shared;
  const perSecond = lane === "order" ? orders : shared ? Math.max(1, total - orders) : total;
  return (1000 + settings.callJitterMs) / perSecond;
}

import { setTimeout as sleep } from "node:timers/promises";
import type { AccountBrokerCredentials } from "../accounts";
import {
  type Broker,
  type BrokerQuery,
  type DayOrder,
  formatKoreaTime,
  type OrderDesk,
  type OrderTerms,
} from "../brokers";
import type { Sql } from "../db";
import type { Logger } from "../log";
import { readDayOrderPages } from "./day-orders";
import {
  boundOrderNumbers,
  type Intent,
  type IntentState,
  readIntent,
  resolveIntent,
} from "./intents";
import type { OrderSettings } from "./settings";

/** One of the gateway's own queries: paced and audited under the account's app key like any caller's. */
export type RunQuery = (
  intent: Intent,
  query: BrokerQuery,
  deadline: Date | undefined,
) => Promise<{
  headers: Headers;
  body: unknown;
  failed: boolean;
  audit(state: IntentState): void;
}>;

export interface ReconcileDependencies {
  sql: Sql;
  logger: Logger;
  settings: OrderSettings;
  desk(broker: Broker): OrderDesk;
  access(accountId: number): Promise<AccountBrokerCredentials>;
  query: RunQuery;
}

/** The rows of `day` that could be this order: same terms, placed at or after the send's second, not bound elsewhere. */
export function matchingOrders(
  rows: readonly DayOrder[],
  terms: OrderTerms,
  sentAt: Date,
  bound: ReadonlySet<string>,
): DayOrder[] {
  const notBefore = formatKoreaTime(sentAt, "compact").slice(8);
  return rows.filter(
    (row) =>
      row.symbol === terms.symbol &&
      row.side === terms.side &&
      Number(row.quantity) === Number(terms.quantity) &&
      Number(row.price) === Number(terms.price) &&
      row.time >= notBefore &&
      !bound.has(row.orderNo),
  );
}

/** Resolves unknown intents from the broker's day orders. */
export interface Reconciler {
  /** One pass over the day's orders; the intent's state after it. */
  once(intent: Intent, deadline: Date | undefined): Promise<IntentState>;
  /** Passes while the caller waits, spread over the window, until the state is known or the deadline comes. */
  settle(intent: Intent, deadline: Date | undefined): Promise<Intent>;
}

/**
 * Resolves unknown intents from the broker's own day orders (KIS
 * inquire-daily-ccld, Kiwoom kt00007): exactly one match is `accepted` with
 * its order number, more than one `ambiguous`, none after the window and
 * enough checks `not_placed`. Never guesses; a query that fails leaves the
 * intent unknown.
 */
export function createReconciler(deps: ReconcileDependencies): Reconciler {
  const { sql, logger, settings } = deps;

  /** One pass over the day's orders; the intent's state after it. */
  async function once(intent: Intent, deadline: Date | undefined): Promise<IntentState> {
    if (intent.state !== "unknown") return intent.state;
    // Without readable terms nothing can be matched: it stays unknown for an operator (alarm).
    if (!intent.terms) return "unknown";
    const credentials = await deps.access(intent.accountId);
    const desk = deps.desk(credentials.broker);
    const sentAt = intent.sentAt ?? intent.createdAt;
    const date = formatKoreaTime(sentAt, "compact").slice(0, 8);
    const audits: ((state: IntentState) => void)[] = [];
    const rows = await readDayOrderPages(
      desk,
      credentials.environment,
      intent.terms,
      date,
      async (query) => {
        const answer = await deps.query(intent, query, deadline);
        audits.push(answer.audit);
        return answer;
      },
    );
    if (!rows) {
      logger.warn(
        { event: "order_reconcile_incomplete", account_id: intent.accountId },
        "could not read the broker's day orders; the order stays unknown",
      );
      for (const audit of audits) audit("unknown");
      return "unknown";
    }
    const bound = await boundOrderNumbers(sql, intent.accountId, intent.key);
    const matches = matchingOrders(rows, intent.terms, sentAt, bound);
    const windowOver = Date.now() >= sentAt.getTime() + settings.reconcileWindowMs;
    const state: IntentState =
      matches.length === 1
        ? "accepted"
        : matches.length > 1
          ? "ambiguous"
          : windowOver && intent.reconcileChecks + 1 >= settings.reconcileChecks
            ? "not_placed"
            : "unknown";
    let changed = false;
    try {
      changed = await resolveIntent(sql, intent, {
        state,
        ...(state === "accepted" ? { brokerOrderNo: (matches[0] as DayOrder).orderNo } : {}),
      });
    } catch (error) {
      // Another intent bound that order number meanwhile (unique index): never two intents for one order.
      logger.warn({ event: "order_reconcile_conflict", err: error }, "order number already bound");
      await resolveIntent(sql, intent, { state: "ambiguous" });
      for (const audit of audits) audit("ambiguous");
      return "ambiguous";
    }
    for (const audit of audits) audit(state);
    logger.info(
      {
        event: "order_reconciled",
        account_id: intent.accountId,
        state,
        matches: matches.length,
        changed,
      },
      "order reconciled",
    );
    return state;
  }

  /**
   * Reconciles while the caller waits: checks spread over the window from
   * the send, stopping as soon as the state is known or the deadline comes.
   * A pass that could not read the day's orders (the broker failed, pacing
   * refused) counts no check; the next waits 250 ms, then twice as long each
   * time, up to one step of the window, so a failing broker is not asked
   * five times a second under the order's app key.
   */
  async function settle(intent: Intent, deadline: Date | undefined): Promise<Intent> {
    let current = intent;
    // Passes in a row that could not read the day's orders: each waits twice as long.
    let unread = 0;
    for (;;) {
      const checks = current.reconcileChecks;
      await once(current, deadline);
      current = (await readIntent(sql, intent.accountId, intent.key)) ?? current;
      if (current.state !== "unknown" || !current.terms) return current;
      unread = current.reconcileChecks > checks ? 0 : unread + 1;
      const sentAt = (current.sentAt ?? current.createdAt).getTime();
      const step = settings.reconcileWindowMs / (settings.reconcileChecks - 1);
      const nextAt = sentAt + Math.max(1, current.reconcileChecks) * step;
      const backoff = unread > 0 ? Math.min(step, 250 * 2 ** (unread - 1)) : 0;
      const wait = Math.max(200, nextAt - Date.now(), backoff);
      if (deadline && Date.now() + wait + 1_000 > deadline.getTime()) return current;
      await sleep(wait);
    }
  }

  return { once, settle };
}

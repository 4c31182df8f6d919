import { type DayOrder, formatKoreaTime } from "../brokers";
import type { Sql } from "../db";
import type { Logger } from "../log";
import { boundOrderNumbers, type Intent, openIntents, resolveIntent } from "./intents";
import { matchingOrders } from "./reconcile";

/** What a notice did to the account's open intents. */
export type NoticeBinding =
  | { outcome: "bound"; key: string }
  /** No open intent has these terms (or the order number is bound already). */
  | { outcome: "none" }
  /** The one candidate is still in flight: its own answer (or reconciliation) decides. */
  | { outcome: "in_flight" }
  /** More than one candidate: left for reconciliation, never guessed. */
  | { outcome: "several"; candidates: number };

/**
 * An execution notice of a new order (KIS H0STCNI0/9, Kiwoom 00) binds the
 * account's one `unknown` intent with its terms, as reconciliation from the
 * day's orders would: the same matcher (symbol, side, quantity, price, a
 * time at or after the send, an order number not bound elsewhere) on a
 * one-row day. Intents in flight count as candidates but are never touched.
 */
export async function bindNoticeOrder(
  sql: Sql,
  logger: Logger,
  notice: { accountId: number; order: DayOrder; at: Date },
): Promise<NoticeBinding> {
  const { accountId, order, at } = notice;
  const open = await openIntents(sql, accountId, order.symbol, order.side);
  const noticeDate = formatKoreaTime(at, "compact").slice(0, 8);
  const candidates: Intent[] = [];
  for (const intent of open) {
    if (!intent.terms) continue;
    const sentAt = intent.sentAt ?? intent.createdAt;
    // The matcher compares times of one Korea day, as reconciliation's query does.
    if (formatKoreaTime(sentAt, "compact").slice(0, 8) !== noticeDate) continue;
    const bound = await boundOrderNumbers(sql, accountId, intent.key);
    if (matchingOrders([order], intent.terms, sentAt, bound).length === 1) candidates.push(intent);
  }
  const [only] = candidates;
  if (candidates.length > 1) {
    logger.info(
      { event: "order_notice_ambiguous", account_id: accountId, candidates: candidates.length },
      "an execution notice matches several open orders; reconciliation decides",
    );
    return { outcome: "several", candidates: candidates.length };
  }
  if (!only) return { outcome: "none" };
  if (only.state !== "unknown") return { outcome: "in_flight" };
  try {
    const changed = await resolveIntent(sql, only, {
      state: "accepted",
      brokerOrderNo: order.orderNo,
    });
    if (!changed) return { outcome: "none" };
  } catch (error) {
    // Another intent bound that order number meanwhile (unique index): leave this one to reconciliation.
    logger.warn(
      { event: "order_notice_conflict", account_id: accountId, err: error },
      "order number already bound; the order stays unknown",
    );
    return { outcome: "none" };
  }
  logger.info(
    { event: "order_reconciled", account_id: accountId, state: "accepted", by: "notice" },
    "order reconciled from an execution notice",
  );
  return { outcome: "bound", key: only.key };
}

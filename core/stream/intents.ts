import type { StreamRecord } from "../brokers/stream-types";
import type { Sql } from "../db";
import type { Logger } from "../log";
import { bindNoticeOrder } from "../orders";

/** While the one matching intent is still in flight, look again this often, this many times. */
const IN_FLIGHT_RETRY_MS = 1_000;
const IN_FLIGHT_RETRIES = 30;

/** Binds the gateway's unknown order intents from stored notices (issue 19, docs/api.md "Orders"). */
export interface NoticeBinder {
  /** A stored notice of `accountId`: bind its order, off the notices' path (never delays them). */
  noticed(accountId: number, record: StreamRecord): void;
  /** Cancels the looks still scheduled and waits for those under way. */
  close(): Promise<void>;
}

export function createNoticeBinder(deps: { sql: Sql; logger: Logger }): NoticeBinder {
  const { sql, logger } = deps;
  const timers = new Set<NodeJS.Timeout>();
  const running = new Set<Promise<void>>();
  let closed = false;

  function attempt(accountId: number, record: StreamRecord, left: number) {
    const order = record.order;
    if (!order || closed) return;
    const work = bindNoticeOrder(sql, logger, { accountId, order, at: record.at })
      .then((binding) => {
        // The intent whose answer is lost a moment after its notice came: it becomes unknown soon.
        if (binding.outcome !== "in_flight" || left <= 0 || closed) return;
        const timer = setTimeout(() => {
          timers.delete(timer);
          attempt(accountId, record, left - 1);
        }, IN_FLIGHT_RETRY_MS);
        timer.unref();
        timers.add(timer);
      })
      .catch((error: Error) => {
        logger.warn(
          { event: "order_notice_bind_failed", account_id: accountId, err: error.message },
          "could not match an execution notice to the orders; reconciliation resolves them",
        );
      })
      .finally(() => running.delete(work));
    running.add(work);
  }

  return {
    noticed(accountId, record) {
      attempt(accountId, record, IN_FLIGHT_RETRIES);
    },
    async close() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await Promise.all([...running]);
    },
  };
}

import { formatKoreaTime } from "../brokers";
import type { Sql } from "../db";
import type { BrokerGateway } from "../gateway";
import type { Logger } from "../log";
import type { AccountInfo, SessionEntry } from "./entry";
import type { StreamEvent } from "./events";
import { catchUpFills } from "./fills";
import type { HubStats } from "./stats";

/**
 * Between reading the day orders and comparing them with the store: the
 * notices of fills just before the read (a broker's websocket lags its own
 * day orders) are stored first, so the catch-up adds only what no notice told.
 */
const SETTLE_MS = 1_000;

/** A catch-up that could not read the day orders is tried again after this, doubling, up to the cap. */
const RETRY_BASE_MS = 1_000;
const RETRY_MAX_MS = 60_000;

/**
 * Brings an account's stored notices up to what its broker's day orders
 * show filled, for the fills no frame told the hub about: those sent while
 * no session was up (a silent drop, a broker restart, a hub hand-over) or
 * while no client had the account's notices registered. Brokers never
 * replay a notice; their day orders keep every fill.
 */
export interface FillCatchUp {
  /**
   * Catch `account` up, in the background: after its session (re)logged in
   * and registered, or when its notices were registered anew. Asked again
   * while a run is under way, it runs once more after it.
   */
  request(entry: SessionEntry, account: AccountInfo): void;
  /** Requests a catch-up of every account whose notices the entry's session holds for a client. */
  watched(entry: SessionEntry): void;
  /** Stops the retries and waits for the runs under way. */
  close(): Promise<void>;
}

export function createFillCatchUp(deps: {
  sql: Sql;
  gateway: Pick<BrokerGateway, "dayOrders">;
  logger: Logger;
  stats: HubStats;
  /** Sends a stored event to the account's notice listeners (behind a replay under way). */
  publish(entry: SessionEntry, topic: string, event: StreamEvent): void;
}): FillCatchUp {
  const { sql, gateway, logger, stats, publish } = deps;
  /** Account → whether another run was asked for during the one under way. */
  const running = new Map<number, { again: boolean }>();
  const runs = new Set<Promise<void>>();
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;
  /** Settles under way: the hub's close ends them at once. */
  const settling = new Set<() => void>();
  const settle = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        settling.delete(done);
        resolve();
      };
      const timer = setTimeout(done, SETTLE_MS);
      timer.unref();
      settling.add(done);
    });

  async function run(entry: SessionEntry, account: AccountInfo): Promise<number> {
    const from = new Date();
    const date = formatKoreaTime(from, "compact").slice(0, 8);
    const rows = await gateway.dayOrders(account.id, { account: account.dayOrdersAccount }, date);
    const read = { accountId: account.id, date: from, from, to: new Date() };
    await settle();
    if (closed) return 0;
    const filled = rows.filter((order) => Number(order.filled) > 0);
    const base = { account_id: account.id, broker: entry.broker };
    let added = 0;
    // Stored in the entry's order, after the live events already under way: a
    // client resuming with `since` never finds a lower seq sent after a higher one.
    // The chain itself never rejects (the live events after it must still be
    // stored); a failure is handed to the caller, which logs it and retries.
    let failure: Error | undefined;
    const stored = entry.storing
      .then(async () => {
        const events = await catchUpFills(sql, base, read, filled, entry.protocol.noticeTotals);
        for (const event of events) {
          added += 1;
          stats.noticesStored += 1;
          stats.noticesCaughtUp += 1;
          publish(entry, `notice|#${account.id}`, event);
        }
      })
      .catch((error: Error) => {
        failure = error;
      });
    entry.storing = stored;
    await stored;
    if (failure) throw failure;
    logger[added > 0 ? "warn" : "debug"](
      {
        event: "stream_fills_caught_up",
        account_id: account.id,
        orders_read: rows.length,
        orders_filled: filled.length,
        stored: added,
      },
      added > 0
        ? "stored fills the broker's day orders show and no notice had told (sent while no session was up, or never sent)"
        : "day orders checked: no fill missing",
    );
    return added;
  }

  function start(entry: SessionEntry, account: AccountInfo, failures: number) {
    const state = { again: false };
    running.set(account.id, state);
    const work = run(entry, account)
      .then(() => ({ ok: true as const }))
      .catch((error: Error) => ({ ok: false as const, error }))
      .then((outcome) => {
        running.delete(account.id);
        if (closed) return;
        if (outcome.ok) {
          if (state.again) start(entry, account, 0);
          return;
        }
        stats.catchUpFailures += 1;
        const delay = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** failures);
        logger.warn(
          {
            event: "stream_catch_up_failed",
            account_id: account.id,
            err: outcome.error.message,
            retry_ms: delay,
          },
          "could not check the day orders for fills the hub did not hear; trying again",
        );
        const timer = setTimeout(() => {
          timers.delete(timer);
          if (!closed && !running.has(account.id)) start(entry, account, failures + 1);
        }, delay);
        timer.unref();
        timers.add(timer);
      })
      .finally(() => runs.delete(work));
    runs.add(work);
  }

  function request(entry: SessionEntry, account: AccountInfo) {
    if (closed) return;
    const under = running.get(account.id);
    if (under) under.again = true;
    else start(entry, account, 0);
  }

  return {
    request,
    watched(entry) {
      for (const account of entry.accounts.values())
        if (entry.topics.has(`notice|#${account.id}`)) request(entry, account);
    },
    async close() {
      closed = true;
      for (const done of [...settling]) done();
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      while (runs.size > 0) await Promise.all([...runs]);
    },
  };
}

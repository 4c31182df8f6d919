import { randomUUID } from "node:crypto";
import { BrokerError } from "../brokers";
import { type Clock, systemClock } from "../clock";
import type { Sql } from "../db";
import { ServiceError } from "../errors";
import { type Logger, silentLogger } from "../log";
import { type Metrics, recordRefreshRun } from "../metrics";
import { TokenIssuanceDeferredError } from "./errors";
import {
  claimDueAccounts,
  claimsHeldElsewhere,
  deferClaimedAccount,
  dueAccountIds,
  dueAccounts,
  releaseClaim,
  releaseClaims,
} from "./refresh-claims";
import { deadRunIds, whileRunIsLive } from "./refresh-liveness";
import { type RefreshWorker, workerOrder } from "./refresh-plan";
import {
  countExpiringUnrefreshed,
  emptyRefreshSummary,
  logRefreshRun,
  type RefreshSummary,
} from "./refresh-summary";
import type { TokenService } from "./service";

/**
 * Accounts a run claims beyond its busy lanes, so that a lane coming free
 * finds its next account claimed already: half the lanes, at least one. A
 * run that dies holds at most lanes + this many accounts, for one lease.
 */
export function claimAhead(lanes: number): number {
  return Math.max(1, Math.ceil(lanes / 2));
}

export interface RefreshDependencies {
  sql: Sql;
  tokens: TokenService;
  clock?: Clock;
  logger?: Logger;
  /** EMF metrics of the run's outcome and of every token state afterwards. */
  metrics?: Metrics;
}

export interface RefreshOptions {
  runId?: string;
  /** The most due accounts one run reads. */
  limit?: number;
  /** This run's place among the workers of a fanned-out run; alone by default. */
  worker?: RefreshWorker;
}

/** How many accounts are due now: what the scheduled run sizes its fan-out by. */
export async function countDueAccounts(
  deps: Pick<RefreshDependencies, "sql" | "tokens" | "clock">,
): Promise<number> {
  const now = (deps.clock ?? systemClock).now();
  const horizon = new Date(now.getTime() + deps.tokens.settings.refreshWindowMs);
  const [row] = await deps.sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM (${dueAccounts(deps.sql, horizon, now)}) due
  `;
  return row?.n ?? 0;
}

/**
 * One run of the refresh job (or one worker of a fanned-out run). Reads the
 * due accounts once, then claims them a few at a time, only as many as its
 * lanes and a short queue ahead of them (claimAhead), for one issuance lease
 * each: a run that dies holds at most that many accounts, for at most
 * `issueLeaseMs`. Refreshes with bounded concurrency and stops starting new
 * work when its time budget is spent. A failure keeps the old token and
 * backs the account off. Accounts held by runs that are no longer connected
 * are counted and logged, with when they free up.
 */
export async function refreshDueTokens(
  deps: RefreshDependencies,
  options: RefreshOptions = {},
): Promise<RefreshSummary> {
  const { sql, tokens } = deps;
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger ?? silentLogger;
  const settings = tokens.settings;
  const runId = options.runId ?? randomUUID();
  const worker = options.worker ?? { index: 0, count: 1 };
  const started = clock.now();
  const horizon = new Date(started.getTime() + settings.refreshWindowMs);
  const summary = emptyRefreshSummary(runId, worker, started);
  /** Due accounts held by other runs: the latest expiry and the count, per run. */
  const heldElsewhere = new Map<string, { until: Date; accounts: number }>();

  const dueIds = await dueAccountIds(sql, horizon, started, options.limit ?? 100_000);
  summary.due = dueIds.length;
  if (dueIds.length === 0) return finish();

  // Held for the whole run: while this session lives, our claims are a live run's.
  await whileRunIsLive(sql, runId, logger, () => work(workerOrder(dueIds, worker)));
  return finish();

  async function work(order: number[]): Promise<void> {
    const lanes = settings.refreshConcurrency;
    const ahead = claimAhead(lanes);
    const stopStartingAt = started.getTime() + settings.refreshTimeBudgetMs;
    const running = new Set<Promise<void>>();
    /** Claimed, waiting for a lane: claiming ahead keeps the claim's round trip off each lane's path. */
    const ready: number[] = [];
    let next = 0;
    try {
      const startReady = () => {
        while (running.size < lanes && ready.length > 0) {
          const accountId = ready.shift() as number;
          const lane: Promise<void> = refreshOne(accountId).finally(() => running.delete(lane));
          running.add(lane);
        }
      };
      for (;;) {
        if (clock.now().getTime() >= stopStartingAt) break;
        // A free lane starts on an account claimed ahead first; the next claim overlaps its work.
        startReady();
        const want = lanes + ahead - running.size - ready.length;
        if (want > 0 && next < order.length) {
          const batch = order.slice(next, next + want);
          next += batch.length;
          const claimed = await claimAccounts(batch);
          summary.claimed += claimed.length;
          ready.push(...claimed);
          if (claimed.length < batch.length) {
            const taken = new Set(claimed);
            // Only this worker's stripe: each of its siblings reaches the same held accounts.
            const ownStripe = (id: number) => id % worker.count === worker.index;
            const held = batch.filter((id) => !taken.has(id) && ownStripe(id));
            if (held.length > 0) await noteHeldElsewhere(held);
          }
          startReady();
        }
        if (ready.length === 0 && next >= order.length) break;
        if (running.size >= lanes) await Promise.race(running);
      }
    } finally {
      // Whatever stopped the loop, the lanes already started finish first.
      summary.notStarted = order.length - next + ready.length;
      await Promise.all(running);
      if (ready.length > 0) {
        await releaseClaims(sql, ready, runId);
        summary.claimed -= ready.length;
      }
    }
    await reportDeadOwners();
  }

  /** Claims those of `ids` this run may take now (claimDueAccounts). */
  function claimAccounts(ids: number[]): Promise<number[]> {
    return claimDueAccounts(sql, {
      ids,
      runId,
      leaseMs: settings.issueLeaseMs,
      readAt: started,
      now: clock.now(),
    });
  }

  async function noteHeldElsewhere(ids: number[]): Promise<void> {
    const held = await claimsHeldElsewhere(sql, ids, runId);
    for (const row of held) {
      summary.claimedElsewhere += row.n;
      const known = heldElsewhere.get(row.claimed_by);
      heldElsewhere.set(row.claimed_by, {
        until: known && known.until > row.until ? known.until : row.until,
        accounts: (known?.accounts ?? 0) + row.n,
      });
    }
  }

  /** Which of the runs holding our due accounts are gone: they hold no liveness lock any more. */
  async function reportDeadOwners(): Promise<void> {
    if (heldElsewhere.size === 0) return;
    const dead = await deadRunIds(sql, [...heldElsewhere.keys()].slice(0, 100));
    let expireAt: Date | null = null;
    for (const owner of dead) {
      const held = heldElsewhere.get(owner);
      if (!held) continue;
      summary.claimedByDeadRuns += held.accounts;
      const until = held.until;
      if (!expireAt || until > expireAt) expireAt = until;
    }
    if (!expireAt) return;
    summary.deadClaimsExpireAt = expireAt.toISOString();
    logger.warn(
      {
        event: "refresh_claims_of_dead_runs",
        accounts: summary.claimedByDeadRuns,
        run_ids: dead,
        expire_at: summary.deadClaimsExpireAt,
      },
      "due accounts are claimed by runs that are no longer connected; they wait until the claims expire",
    );
  }

  async function refreshOne(accountId: number): Promise<void> {
    try {
      const { outcome } = await tokens.refreshAccount(
        accountId,
        new Date(clock.now().getTime() + settings.refreshWindowMs),
      );
      summary[outcome]++;
      // An issued or shared token was committed together with the claim's release.
      if (outcome === "current") await releaseClaim(sql, accountId, runId);
    } catch (error) {
      if (error instanceof TokenIssuanceDeferredError) {
        summary.deferred++;
        await deferAccount(accountId, error.retryAfterMs);
        return;
      }
      await releaseClaim(sql, accountId, runId).catch((releaseError: unknown) => {
        // The claim then runs out on its own (claimed_until): the account waits that long.
        logger.warn(
          { event: "refresh_claim_not_released", account_id: accountId, err: releaseError },
          "could not release the refresh claim after a failure; it expires on its own",
        );
      });
      summary.failed++;
      if (summary.failures.length < 20) {
        summary.failures.push({
          accountId,
          code:
            error instanceof BrokerError
              ? (error.brokerCode ?? error.code)
              : error instanceof ServiceError
                ? error.code
                : "internal_error",
          message: error instanceof ServiceError ? error.message : "unexpected error (see logs)",
        });
      }
      if (!(error instanceof ServiceError)) {
        logger.error(
          { event: "refresh_account_error", account_id: accountId, err: error },
          "unexpected error refreshing an account",
        );
      }
    }
  }

  /**
   * A deferred account's claim goes, and it rests until the broker's pace
   * (or the other issuer's lease) allows: the runs' due query and claim skip
   * it until then, so the other workers of this run do not defer it again.
   */
  async function deferAccount(accountId: number, retryAfterMs: number): Promise<void> {
    const until = new Date(clock.now().getTime() + retryAfterMs);
    await deferClaimedAccount(sql, accountId, runId, until).catch((deferError: unknown) => {
      logger.warn(
        { event: "refresh_claim_not_released", account_id: accountId, err: deferError },
        "could not release a deferred account's refresh claim; it expires on its own",
      );
    });
  }

  /**
   * The approval keys accounts asked for are renewed before they expire,
   * like tokens, within the same time budget, by the first worker only (they
   * are few). Keys of accounts sharing an app key are one issuance: the rest
   * find it current.
   */
  async function refreshApprovalKeys(): Promise<void> {
    if (worker.index !== 0) return;
    const keys = await sql<{ account_id: number }[]>`
      SELECT k.account_id FROM securities_approval_keys k
      JOIN accounts a ON a.id = k.account_id AND a.is_active
      WHERE k.expires_at <= ${horizon}
      ORDER BY k.expires_at LIMIT ${options.limit ?? 100_000}
    `;
    const counts = summary.approvalKeys;
    counts.due = keys.length;
    for (const { account_id: accountId } of keys) {
      if (clock.now().getTime() >= started.getTime() + settings.refreshTimeBudgetMs) break;
      try {
        const { outcome } = await tokens.refreshApprovalKey(
          accountId,
          new Date(clock.now().getTime() + settings.refreshWindowMs),
        );
        if (outcome === "issued") counts.issued++;
      } catch (error) {
        if (error instanceof TokenIssuanceDeferredError) counts.deferred++;
        else {
          counts.failed++;
          logger.warn(
            {
              event: "approval_key_refresh_failed",
              account_id: accountId,
              code: error instanceof ServiceError ? error.code : "internal_error",
            },
            "could not renew a websocket approval key",
          );
        }
      }
    }
  }

  async function finish(): Promise<RefreshSummary> {
    await refreshApprovalKeys();
    summary.expiringUnrefreshed = await countExpiringUnrefreshed(sql, clock.now());
    summary.durationMs = clock.now().getTime() - started.getTime();
    logRefreshRun(logger, summary);
    if (deps.metrics) {
      // Counting states reads every securities account, so only when someone records them.
      const { accounts: _all, ...states } = (await tokens.status()).totals;
      recordRefreshRun(deps.metrics, { ...summary, states });
    }
    return summary;
  }
}

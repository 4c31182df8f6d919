import { createHash, randomUUID } from "node:crypto";
import { BrokerError } from "../brokers";
import { type Clock, systemClock } from "../clock";
import type { Sql } from "../db";
import { ServiceError } from "../errors";
import { type Logger, silentLogger } from "../log";
import { type Metrics, recordRefreshRun } from "../metrics";
import { TokenIssuanceDeferredError } from "./errors";
import { type RefreshWorker, workerOrder } from "./refresh-plan";
import type { TokenService } from "./service";

export interface RefreshSummary {
  runId: string;
  /** This run's place among the workers of a fanned-out run ("0/1" when alone). */
  worker: string;
  startedAt: string;
  durationMs: number;
  /** Accounts due: token expiring within the window, rejected, or missing; not in backoff. */
  due: number;
  /** Of those, claimed by this run (the rest were done or held by another run). */
  claimed: number;
  issued: number;
  /** Already good when their turn came (another process refreshed them). */
  current: number;
  /** Shared a sibling account's fresh token (same app key). */
  reused: number;
  /**
   * Left for a later run without calling the broker: its pace or another
   * issuer. The account rests until the broker's pace allows an issue
   * (next_attempt_at), so no other worker of the same run defers it again.
   */
  deferred: number;
  failed: number;
  /** Not started because the run's time budget ran out. */
  notStarted: number;
  /**
   * Due accounts of this worker's stripe (account id modulo the worker
   * count) another run held when this run reached them. Every account is in
   * one stripe, so the sum over a fan-out's workers counts each account once.
   */
  claimedElsewhere: number;
  /**
   * Of those, held by runs no longer connected to the database (crashed or
   * killed): nobody works on them until their claims expire at
   * `deadClaimsExpireAt`, and then the next run takes them. Summed over a
   * fan-out's workers, each account once, like claimedElsewhere.
   */
  claimedByDeadRuns: number;
  deadClaimsExpireAt: string | null;
  failures: { accountId: number; code: string; message: string }[];
  /**
   * After the run: active securities accounts whose token is missing or
   * expires within the hour. The deploy's alarm watches this number (logged
   * as `tokens_expiring_unrefreshed`).
   */
  expiringUnrefreshed: number;
  /** KIS websocket approval keys expiring within the window (the first worker's job), and what became of them. */
  approvalKeys: { due: number; issued: number; deferred: number; failed: number };
}

/** How close to expiry an unrefreshed token counts against the alarm. */
export const UNREFRESHED_ALARM_HORIZON_MS = 3_600_000;

/**
 * The advisory-lock namespace (first key of the two-key form) a run holds
 * for as long as it is alive, the second key derived from its run id: a
 * claim whose run holds no such lock belongs to a dead run. The migration
 * runner's lock uses the one-key form, so the two never meet.
 */
export const RUN_LIVENESS_LOCK_NAMESPACE = 0x5e_c0_0f_7e;

/**
 * Accounts a run claims beyond its busy lanes, so that a lane coming free
 * finds its next account claimed already: half the lanes, at least one. A
 * run that dies holds at most lanes + this many accounts, for one lease.
 */
export function claimAhead(lanes: number): number {
  return Math.max(1, Math.ceil(lanes / 2));
}

/** The second key of a run's liveness lock: 32 bits of its run id's sha256. */
export function runLivenessKey(runId: string): number {
  return createHash("sha256").update(runId).digest().readInt32BE(0);
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

/**
 * The seed's indexed queries for due accounts (tokens expiring before the
 * horizon, securities accounts without a token, tokens reported rejected),
 * active and not backing off: a fragment the run lists and the scheduler counts.
 */
function dueAccounts(sql: Sql, horizon: Date, now: Date) {
  return sql`
    WITH due AS (
      SELECT st.account_id, st.expires_at
      FROM securities_tokens st
      WHERE st.expires_at <= ${horizon}
      UNION
      SELECT a.id, NULL
      FROM accounts a
      WHERE a.account_type = 'SECURITIES_STOCK'
        AND NOT EXISTS (SELECT 1 FROM securities_tokens st WHERE st.account_id = a.id)
      UNION
      SELECT st.account_id, st.expires_at
      FROM securities_token_state s JOIN securities_tokens st ON st.account_id = s.account_id
      WHERE s.rejected_token_refreshed_at = st.last_refreshed_at
    )
    SELECT due.account_id, due.expires_at
    FROM due
    JOIN accounts a ON a.id = due.account_id AND a.is_active AND a.account_type = 'SECURITIES_STOCK'
    LEFT JOIN securities_token_state s ON s.account_id = due.account_id
    WHERE s.next_attempt_at IS NULL OR s.next_attempt_at <= ${now}
  `;
}

/** The due accounts, most urgent first. */
async function dueAccountIds(sql: Sql, horizon: Date, now: Date, limit: number): Promise<number[]> {
  const rows = await sql<{ account_id: number }[]>`
    SELECT account_id FROM (${dueAccounts(sql, horizon, now)}) due
    ORDER BY expires_at NULLS FIRST, account_id
    LIMIT ${limit}
  `;
  return rows.map((r) => r.account_id);
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
  const summary: RefreshSummary = {
    runId,
    startedAt: started.toISOString(),
    durationMs: 0,
    worker: `${worker.index}/${worker.count}`,
    due: 0,
    claimed: 0,
    issued: 0,
    current: 0,
    reused: 0,
    deferred: 0,
    failed: 0,
    notStarted: 0,
    claimedElsewhere: 0,
    claimedByDeadRuns: 0,
    deadClaimsExpireAt: null,
    failures: [],
    expiringUnrefreshed: 0,
    approvalKeys: { due: 0, issued: 0, deferred: 0, failed: 0 },
  };
  /** Due accounts held by other runs: the latest expiry and the count, per run. */
  const heldElsewhere = new Map<string, { until: Date; accounts: number }>();

  const dueIds = await dueAccountIds(sql, horizon, started, options.limit ?? 100_000);
  summary.due = dueIds.length;
  if (dueIds.length === 0) return finish();

  // Held for the whole run: while this session lives, our claims are a live run's.
  const liveness = await sql.reserve();
  const livenessKey = runLivenessKey(runId);
  try {
    await liveness`SELECT pg_advisory_lock(${RUN_LIVENESS_LOCK_NAMESPACE}, ${livenessKey})`;
    await work(workerOrder(dueIds, worker));
  } finally {
    await liveness`SELECT pg_advisory_unlock(${RUN_LIVENESS_LOCK_NAMESPACE}, ${livenessKey})`.catch(
      (unlockError: unknown) => {
        // Harmless: the session's locks go when the connection closes.
        logger.warn(
          { event: "refresh_liveness_unlock_failed", run_id: runId, err: unlockError },
          "could not release the run's liveness lock; it goes with its connection",
        );
      },
    );
    liveness.release();
  }
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
        await sql`
          UPDATE securities_token_state SET claimed_by = NULL, claimed_until = NULL
          WHERE account_id = ANY(${ready}::int[]) AND claimed_by = ${runId}
        `;
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
    const held = await sql<{ claimed_by: string; until: Date; n: number }[]>`
      SELECT claimed_by, max(claimed_until) AS until, count(*)::int AS n
      FROM securities_token_state
      WHERE account_id = ANY(${ids}::int[]) AND claimed_until > clock_timestamp()::timestamp
        AND claimed_by <> ${runId}
      GROUP BY claimed_by
    `;
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
    const runIds = [...heldElsewhere.keys()].slice(0, 100);
    const unsignedKey = (id: string) => String(runLivenessKey(id) >>> 0);
    const live = await sql<{ key: string }[]>`
      SELECT objid::text AS key FROM pg_locks
      WHERE locktype = 'advisory' AND granted AND objsubid = 2
        AND classid::text = ${String(RUN_LIVENESS_LOCK_NAMESPACE)}
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND objid::text = ANY(${runIds.map(unsignedKey)}::text[])
    `;
    const liveKeys = new Set(live.map((r) => r.key));
    let expireAt: Date | null = null;
    const dead: string[] = [];
    for (const owner of runIds) {
      if (liveKeys.has(unsignedKey(owner))) continue;
      dead.push(owner);
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
    await sql`
      UPDATE securities_token_state
      SET claimed_by = NULL, claimed_until = NULL,
          next_attempt_at = greatest(coalesce(next_attempt_at, ${until}), ${until})
      WHERE account_id = ${accountId} AND claimed_by = ${runId}
    `.catch((deferError: unknown) => {
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
    const horizon = new Date(clock.now().getTime() + UNREFRESHED_ALARM_HORIZON_MS);
    const [left] = await sql<{ n: number }[]>`
      SELECT count(*)::int AS n
      FROM accounts a LEFT JOIN securities_tokens st ON st.account_id = a.id
      WHERE a.account_type = 'SECURITIES_STOCK' AND a.is_active
        AND (st.expires_at IS NULL OR st.expires_at <= ${horizon})
    `;
    summary.expiringUnrefreshed = left?.n ?? 0;
    summary.durationMs = clock.now().getTime() - started.getTime();
    logger.info(
      {
        event: "refresh_run",
        run_id: summary.runId,
        worker: summary.worker,
        started_at: summary.startedAt,
        duration_ms: summary.durationMs,
        due: summary.due,
        claimed: summary.claimed,
        issued: summary.issued,
        current: summary.current,
        reused: summary.reused,
        deferred: summary.deferred,
        failed: summary.failed,
        not_started: summary.notStarted,
        claimed_elsewhere: summary.claimedElsewhere,
        claimed_by_dead_runs: summary.claimedByDeadRuns,
        dead_claims_expire_at: summary.deadClaimsExpireAt,
        failures: summary.failures.length,
        tokens_expiring_unrefreshed: summary.expiringUnrefreshed,
        approval_keys_due: summary.approvalKeys.due,
        approval_keys_issued: summary.approvalKeys.issued,
        approval_keys_failed: summary.approvalKeys.failed,
      },
      "refresh run finished",
    );
    if (deps.metrics) {
      // Counting states reads every securities account, so only when someone records them.
      const { accounts: _all, ...states } = (await tokens.status()).totals;
      recordRefreshRun(deps.metrics, { ...summary, states });
    }
    return summary;
  }
}

/**
 * Claims those of `ids` nobody else holds, that are not backing off at `now`
 * and that nobody refreshed since `readAt` (when the run read them as due),
 * for one issuance lease; returns the ids claimed. The due list is read
 * once, so each condition is checked again here, where it counts.
 */
export async function claimDueAccounts(
  sql: Sql,
  claim: { ids: number[]; runId: string; leaseMs: number; readAt: Date; now: Date },
): Promise<number[]> {
  // The claim is a lease other runs compare: written and judged on the database's clock.
  const rows = await sql<{ account_id: number }[]>`
    INSERT INTO securities_token_state AS s (account_id, claimed_by, claimed_until)
    SELECT t.id, ${claim.runId}, clock_timestamp()::timestamp + ${claim.leaseMs} * interval '1 millisecond'
    FROM unnest(${claim.ids}::int[]) AS t(id)
    WHERE NOT EXISTS (
      SELECT 1 FROM securities_tokens st
      WHERE st.account_id = t.id AND st.last_refreshed_at >= ${claim.readAt}
    )
    ON CONFLICT (account_id) DO UPDATE
      SET claimed_by = EXCLUDED.claimed_by, claimed_until = EXCLUDED.claimed_until
      WHERE (s.claimed_until IS NULL OR s.claimed_until <= clock_timestamp()::timestamp)
        AND (s.next_attempt_at IS NULL OR s.next_attempt_at <= ${claim.now})
    RETURNING account_id
  `;
  return rows.map((r) => r.account_id);
}

async function releaseClaim(sql: Sql, accountId: number, runId: string): Promise<void> {
  await sql`
    UPDATE securities_token_state SET claimed_by = NULL, claimed_until = NULL
    WHERE account_id = ${accountId} AND claimed_by = ${runId}
  `;
}

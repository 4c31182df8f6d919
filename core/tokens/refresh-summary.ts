import type { Sql } from "../db";
import type { Logger } from "../log";
import type { RefreshWorker } from "./refresh-plan";

/** What one refresh run (or one worker of a fanned-out run) did, returned, logged and measured. */
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

/** A run's summary before it has done anything. */
export function emptyRefreshSummary(
  runId: string,
  worker: RefreshWorker,
  started: Date,
): RefreshSummary {
  return {
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
}

/** Active securities accounts whose token is missing or expires before `now` + the alarm's horizon. */
export async function countExpiringUnrefreshed(sql: Sql, now: Date): Promise<number> {
  const horizon = new Date(now.getTime() + UNREFRESHED_ALARM_HORIZON_MS);
  const [left] = await sql<{ n: number }[]>`
    SELECT count(*)::int AS n
    FROM accounts a LEFT JOIN securities_tokens st ON st.account_id = a.id
    WHERE a.account_type = 'SECURITIES_STOCK' AND a.is_active
      AND (st.expires_at IS NULL OR st.expires_at <= ${horizon})
  `;
  return left?.n ?? 0;
}

/** The run's one log line (`refresh_run`); the deployed alarm watches its `tokens_expiring_unrefreshed`. */
export function logRefreshRun(logger: Logger, summary: RefreshSummary): void {
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
}

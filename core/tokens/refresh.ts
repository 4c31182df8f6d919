import { randomUUID } from "node:crypto";
import pLimit from "p-limit";
import { BrokerError } from "../brokers";
import { type Clock, systemClock } from "../clock";
import type { Sql } from "../db";
import { ServiceError } from "../errors";
import { type Logger, silentLogger } from "../log";
import { type Metrics, recordRefreshRun } from "../metrics";
import { TokenIssuanceDeferredError } from "./errors";
import type { TokenService } from "./service";

export interface RefreshSummary {
  runId: string;
  startedAt: string;
  durationMs: number;
  /** Accounts due: token expiring within the window, rejected, or missing; not in backoff. */
  due: number;
  /** Of those, claimed by this run (the rest belong to an overlapping run). */
  claimed: number;
  issued: number;
  /** Already good when their turn came (another process refreshed them). */
  current: number;
  /** Shared a sibling account's fresh token (same app key). */
  reused: number;
  /** Left for a later run without calling the broker: its pace or another issuer. */
  deferred: number;
  failed: number;
  /** Not started because the run's time budget ran out. */
  notStarted: number;
  failures: { accountId: number; code: string; message: string }[];
  /**
   * After the run: active securities accounts whose token is missing or
   * expires within the hour. The deploy's alarm watches this number (logged
   * as `tokens_expiring_unrefreshed`).
   */
  expiringUnrefreshed: number;
  /** KIS websocket approval keys expiring within the window, and what became of them. */
  approvalKeys: { due: number; issued: number; deferred: number; failed: number };
}

/** How close to expiry an unrefreshed token counts against the alarm. */
export const UNREFRESHED_ALARM_HORIZON_MS = 3_600_000;

export interface RefreshDependencies {
  sql: Sql;
  tokens: TokenService;
  clock?: Clock;
  logger?: Logger;
  /** EMF metrics of the run's outcome and of every token state afterwards. */
  metrics?: Metrics;
}

/**
 * One run of the refresh job. Finds due accounts with the seed's indexed
 * queries, claims them (a lease, so overlapping runs split the work instead
 * of doubling it), refreshes them with bounded concurrency, and stops
 * starting new work when its time budget is spent, releasing what it did
 * not start. A failure keeps the old token and backs the account off.
 */
export async function refreshDueTokens(
  deps: RefreshDependencies,
  options: { runId?: string; limit?: number } = {},
): Promise<RefreshSummary> {
  const { sql, tokens } = deps;
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger ?? silentLogger;
  const settings = tokens.settings;
  const runId = options.runId ?? randomUUID();
  const started = clock.now();
  const horizon = new Date(started.getTime() + settings.refreshWindowMs);
  const summary: RefreshSummary = {
    runId,
    startedAt: started.toISOString(),
    durationMs: 0,
    due: 0,
    claimed: 0,
    issued: 0,
    current: 0,
    reused: 0,
    deferred: 0,
    failed: 0,
    notStarted: 0,
    failures: [],
    expiringUnrefreshed: 0,
    approvalKeys: { due: 0, issued: 0, deferred: 0, failed: 0 },
  };

  const due = await sql<{ account_id: number }[]>`
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
    SELECT due.account_id
    FROM due
    JOIN accounts a ON a.id = due.account_id AND a.is_active AND a.account_type = 'SECURITIES_STOCK'
    LEFT JOIN securities_token_state s ON s.account_id = due.account_id
    WHERE s.next_attempt_at IS NULL OR s.next_attempt_at <= ${started}
    ORDER BY due.expires_at NULLS FIRST, due.account_id
    LIMIT ${options.limit ?? 100_000}
  `;
  summary.due = due.length;
  if (due.length === 0) return finish();

  const claimUntil = new Date(
    started.getTime() + settings.refreshTimeBudgetMs + settings.issueLeaseMs,
  );
  const claimed = await sql<{ account_id: number }[]>`
    INSERT INTO securities_token_state AS s (account_id, claimed_by, claimed_until)
    SELECT unnest(${due.map((d) => d.account_id)}::int[]), ${runId}, ${claimUntil}
    ON CONFLICT (account_id) DO UPDATE
      SET claimed_by = EXCLUDED.claimed_by, claimed_until = EXCLUDED.claimed_until
      WHERE s.claimed_until IS NULL OR s.claimed_until <= ${started}
    RETURNING account_id
  `;
  const order = new Map(due.map((d, i) => [d.account_id, i]));
  const ids = claimed
    .map((c) => c.account_id)
    .sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0));
  summary.claimed = ids.length;

  const limit = pLimit(settings.refreshConcurrency);
  const stopStartingAt = started.getTime() + settings.refreshTimeBudgetMs;
  const unstarted: number[] = [];
  await Promise.all(
    ids.map((accountId) =>
      limit(async () => {
        if (clock.now().getTime() >= stopStartingAt) {
          unstarted.push(accountId);
          return;
        }
        try {
          const { outcome } = await tokens.refreshAccount(
            accountId,
            new Date(clock.now().getTime() + settings.refreshWindowMs),
          );
          summary[outcome]++;
          // An issued or shared token was committed together with the claim's release.
          if (outcome === "current") await releaseClaim(sql, accountId, runId);
        } catch (error) {
          await releaseClaim(sql, accountId, runId);
          if (error instanceof TokenIssuanceDeferredError) {
            summary.deferred++;
            return;
          }
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
              message:
                error instanceof ServiceError ? error.message : "unexpected error (see logs)",
            });
          }
          if (!(error instanceof ServiceError)) {
            logger.error(
              { event: "refresh_account_error", account_id: accountId, err: error },
              "unexpected error refreshing an account",
            );
          }
        }
      }),
    ),
  );
  if (unstarted.length) {
    summary.notStarted = unstarted.length;
    await sql`
      UPDATE securities_token_state SET claimed_by = NULL, claimed_until = NULL
      WHERE account_id = ANY(${unstarted}::int[]) AND claimed_by = ${runId}
    `;
  }
  return finish();

  /**
   * The approval keys accounts asked for are renewed before they expire,
   * like tokens, within the same time budget. Keys of accounts sharing an
   * app key are one issuance: the rest find it current.
   */
  async function refreshApprovalKeys(): Promise<void> {
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

async function releaseClaim(sql: Sql, accountId: number, runId: string): Promise<void> {
  await sql`
    UPDATE securities_token_state SET claimed_by = NULL, claimed_until = NULL
    WHERE account_id = ${accountId} AND claimed_by = ${runId}
  `;
}

import { countDueAccounts, type RefreshDependencies, refreshDueTokens } from "./refresh";
import { accountsPerWorker, type RefreshWorker, refreshWorkersNeeded } from "./refresh-plan";
import type { RefreshSummary } from "./refresh-summary";

/** Starts one refresh worker elsewhere (an asynchronous Lambda invoke); resolves once it is queued. */
export type StartRefreshWorker = (worker: RefreshWorker) => Promise<void>;

export interface FanOutPlan {
  /** The most runs at once, this one included (the workers' reserved concurrency + 1). */
  maxWorkers: number;
  /** Time one account takes, to size a worker (docs/capacity.md has the measured figures). */
  accountMs: number;
}

export interface ScheduledRefreshSummary extends RefreshSummary {
  /** Due accounts counted before the fan-out. */
  dueAtStart: number;
  /** Runs this schedule tick made: itself plus the workers it started. */
  workers: number;
  /** Workers that could not be started (their share is picked up by the others, or the next tick). */
  workersNotStarted: number;
}

/**
 * The scheduled refresh: counts the due accounts, starts as many workers
 * as one run's time budget needs (beyond itself), then works as worker 0.
 * Workers split the work through the claims, so a worker that never
 * starts only leaves its stripe to the others and to the next tick.
 */
export async function runScheduledRefresh(
  deps: RefreshDependencies & { startWorker?: StartRefreshWorker },
  plan: FanOutPlan,
): Promise<ScheduledRefreshSummary> {
  const settings = deps.tokens.settings;
  const dueAtStart = await countDueAccounts(deps);
  const perWorker = accountsPerWorker({
    concurrency: settings.refreshConcurrency,
    timeBudgetMs: settings.refreshTimeBudgetMs,
    accountMs: plan.accountMs,
  });
  const count = deps.startWorker ? refreshWorkersNeeded(dueAtStart, perWorker, plan.maxWorkers) : 1;
  let notStarted = 0;
  if (deps.startWorker && count > 1) {
    const start = deps.startWorker;
    const started = await Promise.allSettled(
      Array.from({ length: count - 1 }, (_, i) => start({ index: i + 1, count })),
    );
    for (const result of started) {
      if (result.status === "fulfilled") continue;
      notStarted++;
      deps.logger?.error(
        { event: "refresh_worker_not_started", err: result.reason },
        "could not start a refresh worker; the others and the next run take its share",
      );
    }
  }
  const summary = await refreshDueTokens(deps, { worker: { index: 0, count } });
  return { ...summary, dueAtStart, workers: count, workersNotStarted: notStarted };
}

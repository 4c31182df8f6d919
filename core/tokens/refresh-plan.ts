/**
 * Pure decisions of the refresh fan-out: how many workers a run needs, and
 * in which order a worker tries the due accounts so that workers rarely
 * reach for the same one. The claims in the database still decide who
 * refreshes an account; these only keep workers out of each other's way.
 */

/** One worker's place among the workers of a fanned-out run. */
export interface RefreshWorker {
  /** 0-based. */
  index: number;
  count: number;
}

/** The most workers one run may start; reserved concurrency holds the deployed bound. */
export const MAX_REFRESH_WORKERS = 64;

/** Checks a worker given from outside (an invocation payload, a command line); one sentence when wrong. */
export function parseRefreshWorker(value: unknown): RefreshWorker {
  const worker = value as Partial<RefreshWorker> | null;
  const count = worker?.count;
  const index = worker?.index;
  if (
    typeof count !== "number" ||
    !Number.isInteger(count) ||
    count < 1 ||
    count > MAX_REFRESH_WORKERS
  ) {
    throw new Error(
      `The refresh worker count must be a whole number from 1 to ${MAX_REFRESH_WORKERS}.`,
    );
  }
  if (typeof index !== "number" || !Number.isInteger(index) || index < 0 || index >= count) {
    throw new Error(`The refresh worker index must be a whole number from 0 to ${count - 1}.`);
  }
  return { index, count };
}

/**
 * The order a worker tries the due accounts in (given most urgent first):
 * its own stripe (account id modulo the worker count) most urgent first,
 * then the other stripes from the least urgent end, so that a worker done
 * early helps the others where they will arrive last.
 */
export function workerOrder(dueIds: readonly number[], worker: RefreshWorker): number[] {
  if (worker.count === 1) return [...dueIds];
  const own: number[] = [];
  const others: number[] = [];
  for (const id of dueIds) (id % worker.count === worker.index ? own : others).push(id);
  return [...own, ...others.reverse()];
}

/**
 * How many accounts one worker renews within its time budget: its
 * concurrency, each lane taking about one broker call per account.
 */
export function accountsPerWorker(settings: {
  concurrency: number;
  timeBudgetMs: number;
  /** The time one account takes: a broker call and a few queries (the issue measured 100-300 ms). */
  accountMs: number;
}): number {
  if (settings.accountMs <= 0) throw new Error("The time per account must be positive.");
  return Math.max(
    1,
    Math.floor((settings.concurrency * settings.timeBudgetMs) / settings.accountMs),
  );
}

/** Workers to start so that `due` accounts are renewed within one run: at least 1, at most `maxWorkers`. */
export function refreshWorkersNeeded(due: number, perWorker: number, maxWorkers: number): number {
  if (!Number.isInteger(maxWorkers) || maxWorkers < 1) {
    throw new Error(
      `The most refresh workers must be a whole number of at least 1, not ${maxWorkers}.`,
    );
  }
  if (due <= 0) return 1;
  return Math.min(maxWorkers, Math.ceil(due / Math.max(1, perWorker)));
}

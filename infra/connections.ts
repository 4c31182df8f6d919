/**
 * The database connection budget, by construction: the instance's
 * max_connections is set explicitly in its parameter group, and every
 * function's reserved concurrency times its pool size, plus headroom for
 * Postgres' superuser slots (RDS's own monitoring uses them), operators and
 * the migrate function, adds up to at most that number. Lambda refuses an
 * invocation beyond a function's reserved concurrency, and API Gateway's
 * stage throttle answers 429 before it gets there, so no burst can open
 * connection max_connections + 1.
 *
 * Why not RDS Proxy: it costs per vCPU-hour whatever the traffic, and this
 * service pins sessions by design (session advisory locks in the migration
 * runner and the refresh job's liveness lock, postgres.js's prepared
 * statements), so a proxy would multiplex little; the arithmetic here is
 * checked offline (test/unit/infra-connections.test.ts). docs/capacity.md
 * says when to switch.
 */

/** Memory in GiB of the instance classes the budget knows (Graviton, current generations). */
export const INSTANCE_MEMORY_GIB: Record<string, number> = {
  "db.t4g.micro": 1,
  "db.t4g.small": 2,
  "db.t4g.medium": 4,
  "db.t4g.large": 8,
  "db.t4g.xlarge": 16,
  "db.t4g.2xlarge": 32,
  "db.m7g.large": 8,
  "db.m7g.xlarge": 16,
  "db.m7g.2xlarge": 32,
  "db.m7g.4xlarge": 64,
  "db.r7g.large": 16,
  "db.r7g.xlarge": 32,
  "db.r7g.2xlarge": 64,
  "db.r7g.4xlarge": 128,
};

/**
 * RDS's default for Postgres is LEAST(DBInstanceClassMemory / 9531392, 5000),
 * where DBInstanceClassMemory is the class's memory less what RDS keeps for
 * itself (about 300 MiB on small classes). We set the result explicitly, so
 * the budget and the server agree whatever RDS's default does.
 */
export function maxConnectionsFor(instanceClass: string): number {
  const gib = INSTANCE_MEMORY_GIB[instanceClass];
  if (gib === undefined) {
    throw new Error(
      `DB_INSTANCE_CLASS ${instanceClass} has no known memory size for the connection budget; use one of ${Object.keys(INSTANCE_MEMORY_GIB).join(", ")}, or set DB_MAX_CONNECTIONS.`,
    );
  }
  const usable = gib * 2 ** 30 - 300 * 2 ** 20;
  return Math.min(5000, Math.floor(usable / 9_531_392));
}

/** Connections held back from the functions. */
export const HEADROOM = {
  /** Postgres' superuser_reserved_connections (default 3); RDS's rdsadmin monitoring uses these. */
  superuserReserved: 3,
  /** An operator's psql, a bastion session, a dashboard. */
  operators: 5,
} as const;

/** The migration runner uses one connection (its advisory lock and every statement). */
export const MIGRATE_POOL = 1;
/** One migrate at a time: the runner's lock would make a second wait anyway. */
export const MIGRATE_CONCURRENCY = 1;
/** Each API container serves one request at a time; two connections let a transaction and a read overlap. */
export const API_POOL = 2;
/** The fewest API containers worth deploying: below this the instance class is too small. */
export const MIN_API_CONCURRENCY = 2;

/** A refresh container's pool: one connection per lane, the run's liveness lock, one spare. */
export function refreshPool(concurrency: number): number {
  return concurrency + 2;
}

export interface ConnectionBudgetInput {
  /** The instance's max_connections (what the parameter group sets). */
  maxConnections: number;
  /** Lanes per refresh run (REFRESH_CONCURRENCY). */
  refreshConcurrency: number;
  /** Most refresh runs at once: the scheduled one plus the workers it may start. */
  refreshWorkers: number;
}

export interface FunctionBudget {
  /** Lambda reserved concurrency: the most containers at once. */
  reservedConcurrency: number;
  /** postgres.js pool size per container (DB_POOL_MAX). */
  poolMax: number;
}

export interface ConnectionBudget {
  maxConnections: number;
  headroom: number;
  migrate: FunctionBudget;
  /** The scheduled refresh run: one at a time (it is also worker 0). */
  refreshScheduler: FunctionBudget;
  /** The workers the scheduled run starts (refreshWorkers - 1; 0 disables fan-out). */
  refreshWorkers: FunctionBudget;
  api: FunctionBudget;
  /** What every function could hold at once, plus the headroom: never above maxConnections. */
  total: number;
}

/** Connections a function can hold at most. */
export function connectionsOf(budget: FunctionBudget): number {
  return budget.reservedConcurrency * budget.poolMax;
}

/**
 * Splits max_connections: headroom first, then migrate, then the refresh
 * scheduler and its workers, and everything left to the API (its
 * containers are the ones a traffic burst multiplies). Throws one sentence
 * when the instance is too small for the refresh settings.
 */
export function connectionBudget(input: ConnectionBudgetInput): ConnectionBudget {
  const { maxConnections, refreshConcurrency, refreshWorkers } = input;
  if (!Number.isInteger(refreshWorkers) || refreshWorkers < 1) {
    throw new Error(`REFRESH_MAX_WORKERS must be at least 1, not ${refreshWorkers}.`);
  }
  const headroom = HEADROOM.superuserReserved + HEADROOM.operators;
  const migrate = { reservedConcurrency: MIGRATE_CONCURRENCY, poolMax: MIGRATE_POOL };
  const refreshScheduler = { reservedConcurrency: 1, poolMax: refreshPool(refreshConcurrency) };
  const workers = {
    reservedConcurrency: refreshWorkers - 1,
    poolMax: refreshPool(refreshConcurrency),
  };
  const fixed =
    headroom + connectionsOf(migrate) + connectionsOf(refreshScheduler) + connectionsOf(workers);
  const apiConcurrency = Math.floor((maxConnections - fixed) / API_POOL);
  if (apiConcurrency < MIN_API_CONCURRENCY) {
    throw new Error(
      `max_connections ${maxConnections} leaves room for ${Math.max(0, apiConcurrency)} API containers after ${refreshWorkers} refresh runs of ${refreshConcurrency} lanes; choose a larger DB_INSTANCE_CLASS or fewer REFRESH_MAX_WORKERS / REFRESH_CONCURRENCY.`,
    );
  }
  const api = { reservedConcurrency: apiConcurrency, poolMax: API_POOL };
  return {
    maxConnections,
    headroom,
    migrate,
    refreshScheduler,
    refreshWorkers: workers,
    api,
    total: fixed + connectionsOf(api),
  };
}

/**
 * API Gateway's stage throttle, from the API's reserved concurrency: a burst
 * no larger than the containers that may run, and a steady rate they can
 * serve at the assumed mean latency. Beyond it clients get 429 at once
 * instead of queueing into Lambda throttles and the database.
 */
export function apiThrottle(
  apiReservedConcurrency: number,
  meanLatencyMs: number,
): { burstLimit: number; rateLimit: number } {
  if (meanLatencyMs <= 0) throw new Error("API_MEAN_LATENCY_MS must be positive.");
  return {
    burstLimit: apiReservedConcurrency,
    rateLimit: Math.floor((apiReservedConcurrency * 1000) / meanLatencyMs),
  };
}

/**
 * The database connection budget, by construction: the instance's
 * max_connections is set explicitly in its parameter group and split between
 * the direct connections and RDS Proxy's pool. Direct: Postgres' superuser
 * slots (RDS's own monitoring), operators, the migrate function and the
 * refresh runs, each function's reserved concurrency times its pool size
 * (they hold session advisory locks, which a transaction pooler cannot carry).
 * Through the proxy: the API (and the hub), whose statements keep no session
 * state, so their containers share the proxy's server connections a
 * transaction at a time; the proxy may open at most MaxConnectionsPercent of
 * max_connections, and that percentage is what the direct connections leave.
 * So no burst can open connection max_connections + 1, and the API's
 * reserved concurrency is no longer cut from max_connections: it is bounded
 * by what the proxy's connections carry at the API's mean latency and by
 * API_MAX_CONCURRENCY, and the stage throttle follows it (apiThrottle).
 * The arithmetic is checked offline (test/unit/infra-connections.test.ts).
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
/**
 * Each API container serves one request at a time; two client connections to
 * the proxy let a transaction and a read overlap. They cost the instance
 * nothing: the proxy lends a server connection per transaction.
 */
export const API_POOL = 2;
/** The fewest API containers worth deploying: below this the instance class is too small. */
export const MIN_API_CONCURRENCY = 2;
/** The fewest server connections worth a proxy. */
export const MIN_PROXY_CONNECTIONS = 2;

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
  /** The most API containers wanted (API_MAX_CONCURRENCY): Lambda's account quota is shared. */
  apiMaxConcurrency: number;
  /** Mean API request latency (API_MEAN_LATENCY_MS). */
  apiMeanLatencyMs: number;
  /** Time a request holds a server connection, its transactions and statements (API_DB_MS). */
  apiDbMs: number;
}

export interface ProxyBudget {
  /** RDS Proxy's MaxConnectionsPercent: its share of max_connections. */
  maxConnectionsPercent: number;
  /** The server connections that share allows (what counts against max_connections). */
  connections: number;
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
  /** RDS Proxy's pool, which the API (and the hub) share. */
  proxy: ProxyBudget;
  /** Reserved concurrency and client connections to the proxy per container. */
  api: FunctionBudget;
  /** The direct connections, the headroom and the proxy's pool: never above maxConnections. */
  total: number;
}

/** Connections a function can hold at most. */
export function connectionsOf(budget: FunctionBudget): number {
  return budget.reservedConcurrency * budget.poolMax;
}

/**
 * Splits max_connections: headroom first, then the direct connections
 * (migrate, the refresh scheduler and its workers), and everything left to
 * the proxy. The API's containers are then what the proxy's connections
 * carry: each container holds a server connection API_DB_MS of every
 * API_MEAN_LATENCY_MS, so one connection serves latency / db containers;
 * at most API_MAX_CONCURRENCY. Throws one sentence when the instance is too
 * small for the refresh settings.
 */
export function connectionBudget(input: ConnectionBudgetInput): ConnectionBudget {
  const { maxConnections, refreshConcurrency, refreshWorkers } = input;
  if (!Number.isInteger(refreshWorkers) || refreshWorkers < 1) {
    throw new Error(`REFRESH_MAX_WORKERS must be at least 1, not ${refreshWorkers}.`);
  }
  if (!(input.apiDbMs > 0) || input.apiDbMs > input.apiMeanLatencyMs) {
    throw new Error(
      `API_DB_MS (${input.apiDbMs}) must be positive and at most API_MEAN_LATENCY_MS (${input.apiMeanLatencyMs}).`,
    );
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
  const maxConnectionsPercent = Math.max(
    0,
    Math.floor((100 * (maxConnections - fixed)) / maxConnections),
  );
  const proxy = {
    maxConnectionsPercent,
    connections: Math.floor((maxConnections * maxConnectionsPercent) / 100),
  };
  const apiConcurrency = Math.min(
    input.apiMaxConcurrency,
    Math.floor((proxy.connections * input.apiMeanLatencyMs) / input.apiDbMs),
  );
  if (proxy.connections < MIN_PROXY_CONNECTIONS || apiConcurrency < MIN_API_CONCURRENCY) {
    throw new Error(
      `max_connections ${maxConnections} leaves ${proxy.connections} connections for RDS Proxy (${apiConcurrency} API containers) after ${refreshWorkers} refresh runs of ${refreshConcurrency} lanes; choose a larger DB_INSTANCE_CLASS or fewer REFRESH_MAX_WORKERS / REFRESH_CONCURRENCY.`,
    );
  }
  const api = { reservedConcurrency: apiConcurrency, poolMax: API_POOL };
  return {
    maxConnections,
    headroom,
    migrate,
    refreshScheduler,
    refreshWorkers: workers,
    proxy,
    api,
    total: fixed + proxy.connections,
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

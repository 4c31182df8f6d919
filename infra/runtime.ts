/**
 * What each deployed function is given: its size, its time budget and its
 * environment. Pure, so the relations are unit-tested without SST.
 */
import { RUNTIME_DATABASE_ROLE } from "../core/db/runtime-role";
import { CONNECTS_THROUGH_PROXY } from "./permissions";
import { PROXY_CA_FILE, RDS_CA_FILE } from "./rds-ca";
import { connectionBudgetOf, type InfraSettings } from "./settings";

export type FunctionKey = "migrate" | "refresh" | "api";

/** Handlers, relative to sst.config.ts (SST's `file.export` form). */
export const HANDLERS: Record<FunctionKey, string> = {
  migrate: "functions/migrate.handler",
  refresh: "functions/refresh-tokens.handler",
  api: "functions/api.handler",
};

/** Lambda runtime; infra/bundle.ts targets the same Node major. */
export const NODE_RUNTIME = "nodejs22.x" as const;
export const NODE_TARGET = "node22";

/** Copied next to the migrate handler; Lambda's working directory is the task root. */
export const MIGRATIONS_COPY = { from: "migrations", to: "migrations" } as const;

/**
 * The API serves the committed openapi.json, the file `npm run openapi`
 * writes and checks, copied beside its bundle: the document clients read is
 * that file byte for byte.
 */
export const OPENAPI_COPY = { from: "openapi.json", to: "openapi.json" } as const;

/**
 * The refresh job's own time bound, a little under the Lambda timeout so the
 * job stops claiming work and reports before Lambda kills it: 10% of the
 * timeout, at least 15 s, is kept for finishing the current broker calls and
 * closing the pool.
 */
export function refreshTimeBudgetMs(timeoutSeconds: number): number {
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 30) {
    throw new Error(`The refresh function timeout must be at least 30 s, not ${timeoutSeconds}.`);
  }
  const reserveSeconds = Math.max(15, Math.ceil(timeoutSeconds * 0.1));
  return (timeoutSeconds - reserveSeconds) * 1000;
}

/**
 * How long `up` may wait for the pre-migration snapshot: half the migrate
 * timeout, so the other half is left for the migration itself.
 */
export function snapshotWaitBudgetMs(migrateTimeoutSeconds: number): number {
  return Math.floor(migrateTimeoutSeconds / 2) * 1000;
}

/** Deploy-time values the environment is built from (strings or Pulumi outputs). */
export interface RuntimeResources<T> {
  dbHost: T;
  /** RDS Proxy's endpoint: the DB_HOST of the functions that connect through it. */
  proxyHost: T;
  dbPort: T;
  dbName: T;
  dbSecretArn: T;
  dbInstanceId: T;
  kmsKeyArn: T;
  apiKeysSecretArn: T;
}

/**
 * Environment variables per function. Each gets only what it reads: only the
 * migrate function has the master user's secret (the API and refresh
 * functions sign in as the runtime role with RDS IAM authentication), the
 * migrate function has no key id, only the API has the API-keys secret.
 * Every function verifies the database with the RDS CA bundle copied next to
 * it; the API connects through RDS Proxy (DB_HOST is the proxy, DB_POOLER
 * says so, and it verifies the proxy's ACM certificate with the Amazon roots).
 */
export function functionEnvironment<T>(
  key: FunctionKey,
  settings: InfraSettings,
  resources: RuntimeResources<T>,
): Record<string, T | string> {
  const pooled = CONNECTS_THROUGH_PROXY[key];
  const common: Record<string, T | string> = {
    STAGE: settings.stage,
    LOG_LEVEL: settings.logLevel,
    DB_HOST: pooled ? resources.proxyHost : resources.dbHost,
    DB_PORT: resources.dbPort,
    DB_NAME: resources.dbName,
    DB_SSL_CA_FILE: pooled ? PROXY_CA_FILE : RDS_CA_FILE,
    ...(pooled ? { DB_POOLER: "transaction" } : {}),
  };
  const budget = connectionBudgetOf(settings);
  const runtimeRole = { DB_IAM_AUTH: "true", DB_USER: RUNTIME_DATABASE_ROLE };
  const refreshKnobs = {
    REFRESH_WINDOW_HOURS: String(settings.refresh.windowHours),
    REFRESH_CONCURRENCY: String(settings.refresh.concurrency),
  };
  switch (key) {
    case "migrate":
      return {
        ...common,
        DB_SECRET_ARN: resources.dbSecretArn,
        DB_INSTANCE_ID: resources.dbInstanceId,
        MIGRATIONS_DIR: MIGRATIONS_COPY.to,
        SNAPSHOT_MAX_WAIT_MS: String(snapshotWaitBudgetMs(settings.migrate.timeoutSeconds)),
      };
    case "refresh":
      return {
        ...common,
        ...runtimeRole,
        ...settings.brokerUrls,
        ...refreshKnobs,
        KMS_KEY_ID: resources.kmsKeyArn,
        REFRESH_TIME_BUDGET_MS: String(refreshTimeBudgetMs(settings.refresh.timeoutSeconds)),
        REFRESH_MAX_WORKERS: String(settings.refresh.maxWorkers),
        REFRESH_ACCOUNT_MS: String(settings.refresh.accountMs),
        DB_POOL_MAX: String(budget.refreshScheduler.poolMax),
      };
    case "api":
      return {
        ...common,
        ...runtimeRole,
        OPENAPI_PATH: OPENAPI_COPY.to,
        ...settings.brokerUrls,
        ...settings.brokerCalls,
        ...refreshKnobs,
        KMS_KEY_ID: resources.kmsKeyArn,
        API_KEYS_SECRET_ID: resources.apiKeysSecretArn,
        DB_POOL_MAX: String(budget.api.poolMax),
      };
  }
}

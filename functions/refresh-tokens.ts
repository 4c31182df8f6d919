/**
 * The refresh function, deployed twice from this file. Scheduled (with
 * REFRESH_WORKER_FUNCTION set): counts the due accounts, starts as many
 * workers of the worker function as one run's time budget needs
 * (asynchronous invokes, at most REFRESH_MAX_WORKERS runs in all), and works
 * as worker 0. Invoked with `{ "worker": { "index", "count" } }`: one worker.
 * Each run is bounded by REFRESH_TIME_BUDGET_MS (the deploy sets it under
 * the function timeout).
 * Dependencies are built once per container; the summary is returned and
 * logged, and written as EMF metrics (issued, failed, deferred, tokens
 * expiring unrefreshed, duration, token states) that the alarms and the
 * dashboard read.
 * A run that fails as a whole throws, so the schedule's retries and
 * dead-letter queue see it.
 */

import { LambdaClient } from "@aws-sdk/client-lambda";
import type { Context } from "aws-lambda";
import { positiveIntegerSetting } from "../core/config";
import { createKmsKeyProvider } from "../core/crypto";
import { resolveDatabaseConnection } from "../core/database-url";
import { createSql } from "../core/db";
import { coldStartTracker, createLogger, withLogContext } from "../core/log";
import { createMetrics, METRIC, metricNamespace } from "../core/metrics";
import { intentCounts } from "../core/orders";
import { composeService, parseServiceSettings } from "../core/service";
import { parseRefreshWorker, refreshDueTokens, runScheduledRefresh } from "../core/tokens";
import { lambdaWorkerStarter } from "../core/tokens/lambda-workers";

const env = process.env;
const logger = createLogger({
  level: env.LOG_LEVEL,
  base: {
    service: "securities-support",
    function: "refresh-tokens",
    function_name: env.AWS_LAMBDA_FUNCTION_NAME ?? "refresh-tokens",
    stage: env.STAGE,
  },
});
const settings = parseServiceSettings(env);
if (!settings.crypto.kmsKeyId) {
  throw new Error(
    "KMS_KEY_ID must be set for the refresh function (the local key file is for npm start).",
  );
}

// Pool size and fan-out come from the deploy's connection budget (infra/connections.ts).
const poolMax = positiveIntegerSetting(env, "DB_POOL_MAX", settings.tokens.refreshConcurrency + 2);
const plan = {
  maxWorkers: positiveIntegerSetting(env, "REFRESH_MAX_WORKERS", 1),
  accountMs: positiveIntegerSetting(env, "REFRESH_ACCOUNT_MS", 300),
};
const workerFunction = env.REFRESH_WORKER_FUNCTION?.trim();
const startWorker = workerFunction
  ? lambdaWorkerStarter(new LambdaClient({}), workerFunction)
  : undefined;

const connection = await resolveDatabaseConnection(env);
if (connection.pooled) {
  throw new Error(
    "DB_POOLER must not be transaction for the refresh function: its run holds a session advisory lock, which a transaction pooler cannot keep; connect it to the instance directly.",
  );
}
const sql = createSql(connection, { max: poolMax, applicationName: "securities-support-refresh" });
const metrics = createMetrics({ namespace: metricNamespace(env.STAGE ?? "dev") });
const { tokens, gateway } = composeService({
  sql,
  keys: createKmsKeyProvider({ keyId: settings.crypto.kmsKeyId }),
  settings,
  logger,
});

const coldStart = coldStartTracker();

export async function handler(event: unknown, context?: Pick<Context, "awsRequestId">) {
  const workerPayload = (event as { worker?: unknown } | null)?.worker;
  return withLogContext({ request_id: context?.awsRequestId, cold_start: coldStart() }, () => {
    // A worker's invocation: its share only; metrics come from the scheduled run.
    if (workerPayload !== undefined) {
      return refreshDueTokens(
        { sql, tokens, logger },
        { worker: parseRefreshWorker(workerPayload) },
      );
    }
    return runScheduledRefresh(
      { sql, tokens, logger, metrics, ...(startWorker ? { startWorker } : {}) },
      plan,
    ).finally(() => reconcileOrders());
  });
}

/**
 * Orders whose outcome is still unknown (their request ended before the
 * broker's day orders told) are reconciled on every scheduled run; the
 * audit rows are written before the container freezes.
 */
async function reconcileOrders(): Promise<void> {
  try {
    const resolved = await gateway.reconcileLeftovers(new Date(Date.now() + 30_000));
    const counts = await intentCounts(sql);
    logger.info({ event: "orders_reconciled", resolved, ...counts }, "unknown orders reconciled");
    // What the OrdersAmbiguous and OrdersUnknownStale alarms watch.
    metrics.put({
      [METRIC.ordersAmbiguous]: counts.ambiguous,
      [METRIC.ordersUnknownOldestAge]: counts.oldest_unknown_seconds ?? 0,
    });
  } catch (error) {
    logger.error({ event: "orders_reconcile_failed", err: error }, "could not reconcile orders");
  } finally {
    await gateway.settled();
  }
}

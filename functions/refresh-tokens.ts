/**
 * The scheduled refresh function: one run of the refresh job, bounded by
 * REFRESH_TIME_BUDGET_MS (the deploy sets it under the function timeout).
 * Dependencies are built once per container; the summary is returned and
 * logged, and written as EMF metrics (issued, failed, deferred, tokens
 * expiring unrefreshed, duration, token states) that the alarms and the
 * dashboard read.
 * A run that fails as a whole throws, so the schedule's retries and
 * dead-letter queue see it.
 */
import type { Context } from "aws-lambda";
import { resolveDatabaseConnection } from "../core/config";
import { createKmsKeyProvider } from "../core/crypto";
import { createSql } from "../core/db";
import { coldStartTracker, createLogger, withLogContext } from "../core/log";
import { createMetrics, metricNamespace } from "../core/metrics";
import { composeService, parseServiceSettings } from "../core/service";
import { refreshDueTokens } from "../core/tokens";

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

const sql = createSql(await resolveDatabaseConnection(env), {
  max: settings.tokens.refreshConcurrency + 2,
  applicationName: "securities-support-refresh",
});
const metrics = createMetrics({ namespace: metricNamespace(env.STAGE ?? "dev") });
const { tokens } = composeService({
  sql,
  keys: createKmsKeyProvider({ keyId: settings.crypto.kmsKeyId }),
  settings,
  logger,
});

const coldStart = coldStartTracker();

export async function handler(_event: unknown, context?: Pick<Context, "awsRequestId">) {
  return withLogContext({ request_id: context?.awsRequestId, cold_start: coldStart() }, () =>
    refreshDueTokens({ sql, tokens, logger, metrics }),
  );
}

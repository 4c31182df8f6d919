/**
 * The HTTP API behind API Gateway v2. Dependencies are built once per
 * container, at module scope: the database URL (DATABASE_URL, or DB_* and the
 * RDS-managed secret), the KMS key provider (KMS_KEY_ID), the broker clients,
 * the token service and the API keys from Secrets Manager (API_KEYS_SECRET_ID,
 * cached API_KEYS_CACHE_SECONDS).
 */
import { readFile } from "node:fs/promises";
import { createApp, type HttpApiHandler, handleHttpApi } from "../core/api";
import { createAuthenticator, createSecretsManagerKeyStore, parseAuthSettings } from "../core/auth";
import { positiveIntegerSetting } from "../core/config";
import { createKmsKeyProvider } from "../core/crypto";
import { resolveDatabaseConnection } from "../core/database-url";
import { createSql } from "../core/db";
import { coldStartTracker, createLogger, withLogContext } from "../core/log";
import { createMetrics, metricNamespace } from "../core/metrics";
import { composeService, parseServiceSettings } from "../core/service";

const env = process.env;
const logger = createLogger({
  level: env.LOG_LEVEL || "info",
  base: {
    service: "securities-support",
    function: "api",
    function_name: env.AWS_LAMBDA_FUNCTION_NAME ?? "api",
    stage: env.STAGE,
  },
});

const authSettings = parseAuthSettings(env);
if (!authSettings.secretId) {
  throw new Error("API_KEYS_SECRET_ID must name the Secrets Manager secret holding the API keys.");
}
const settings = parseServiceSettings(env);
if (!settings.crypto.kmsKeyId) {
  throw new Error(
    "KMS_KEY_ID must be set for the API function (the local key file is for npm start).",
  );
}

// The deploy sizes the pool (infra/connections.ts) and points DB_HOST at RDS
// Proxy with DB_POOLER=transaction, which the connection carries: every
// statement here is safe in transaction mode (test/unit/api-path-statements.test.ts).
const sql = createSql(await resolveDatabaseConnection(env), {
  max: positiveIntegerSetting(env, "DB_POOL_MAX", 2),
  applicationName: "securities-support-api",
  // In an outage the API answers 503 at once rather than queueing (docs/operations.md).
  failFast: { logger },
});
const metrics = createMetrics({ namespace: metricNamespace(env.STAGE ?? "dev") });
const { cipher, tokens, gateway } = composeService({
  sql,
  keys: createKmsKeyProvider({ keyId: settings.crypto.kmsKeyId }),
  settings,
  logger,
  metrics,
});
const apiKeys = createSecretsManagerKeyStore({
  secretId: authSettings.secretId,
  ttlMs: authSettings.cacheTtlMs,
  logger,
});

// Read the keys during init so a denied or malformed secret is in the log at
// once; requests then answer 503 naming the problem until it is fixed.
await apiKeys.keys().catch((error: Error) => {
  logger.error({ err: error }, "API keys unavailable at start");
});

const app = handleHttpApi(
  createApp({
    sql,
    cipher,
    tokens,
    auth: createAuthenticator(apiKeys),
    gateway,
    logger,
    // Copied beside the bundle by the deploy (infra/runtime.ts OPENAPI_COPY).
    openApiDocument: () => readFile(env.OPENAPI_PATH || "openapi.json", "utf8"),
    // API Gateway's request id, when the caller sent no usable x-request-id.
    platformRequestId: (lambdaEnv) =>
      (lambdaEnv as { requestContext?: { requestId?: string } } | undefined)?.requestContext
        ?.requestId,
  }),
  // The gateway's audit rows, written after each answer, before Lambda freezes the container.
  gateway.settled,
);
const coldStart = coldStartTracker();

export const handler: HttpApiHandler = (event, context) =>
  withLogContext({ cold_start: coldStart() }, () => app(event, context));

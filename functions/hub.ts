/**
 * The realtime hub's container entry (infra/hub.ts runs it as one ECS task):
 * the broker websockets, one per app key under a lease in Postgres, and the
 * clients' websocket at /stream on PORT (GET /health for the load balancer).
 * Dependencies as the API builds them: the database (DB_* with RDS IAM auth),
 * KMS (KMS_KEY_ID), the broker clients, the token service, the API keys from
 * Secrets Manager (API_KEYS_SECRET_ID). SIGTERM stops the sessions and
 * releases the leases, so the next task opens them at once.
 */
import { createAuthenticator, createSecretsManagerKeyStore, parseAuthSettings } from "../core/auth";
import { positiveIntegerSetting } from "../core/config";
import { createKmsKeyProvider } from "../core/crypto";
import { resolveDatabaseConnection } from "../core/database-url";
import { createSql } from "../core/db";
import { createLogger } from "../core/log";
import { createMetrics, metricNamespace } from "../core/metrics";
import { composeService, parseServiceSettings } from "../core/service";
import {
  createHub,
  emptyHubStats,
  parseStreamSettings,
  recordHubStats,
  serveHub,
  statsSince,
} from "../core/stream";

const env = process.env;
const logger = createLogger({
  level: env.LOG_LEVEL || "info",
  base: { service: "securities-support", function: "hub", stage: env.STAGE },
});

const authSettings = parseAuthSettings(env);
if (!authSettings.secretId) {
  throw new Error("API_KEYS_SECRET_ID must name the Secrets Manager secret holding the API keys.");
}
const settings = parseServiceSettings(env);
if (!settings.crypto.kmsKeyId) throw new Error("KMS_KEY_ID must be set for the hub.");
const streamSettings = parseStreamSettings(env);
const port = positiveIntegerSetting(env, "PORT", 8080);

const sql = createSql(await resolveDatabaseConnection(env), {
  max: positiveIntegerSetting(env, "DB_POOL_MAX", 4),
  applicationName: "securities-support-hub",
});
const { cipher, tokens, gateway } = composeService({
  sql,
  keys: createKmsKeyProvider({ keyId: settings.crypto.kmsKeyId }),
  settings,
  logger,
});
const apiKeys = createSecretsManagerKeyStore({
  secretId: authSettings.secretId,
  ttlMs: authSettings.cacheTtlMs,
  logger,
});
const hub = createHub({
  sql,
  cipher,
  tokens,
  gateway,
  auth: createAuthenticator(apiKeys),
  settings: streamSettings,
  logger,
  ...(env.ECS_TASK_ID ? { owner: `hub-${env.ECS_TASK_ID}` } : {}),
});
const server = await serveHub(hub, { port, host: "0.0.0.0" });
logger.info({ port }, "hub listening");

const metrics = createMetrics({ namespace: metricNamespace(env.STAGE ?? "dev") });
let previous = emptyHubStats();
const reporter = setInterval(() => {
  const current = hub.stats();
  recordHubStats(metrics, statsSince(current, previous));
  previous = current;
}, 60_000);

process.once("SIGTERM", () => {
  logger.info("SIGTERM: releasing the broker sessions");
  clearInterval(reporter);
  void server
    .close()
    // The catch-ups' day-order calls recorded, then the pool.
    .then(() => gateway.settled())
    .then(() => sql.end({ timeout: 5 }))
    .then(
      () => process.exit(0),
      (error: Error) => {
        logger.error({ err: error.message }, "hub did not stop cleanly");
        process.exit(1);
      },
    );
});

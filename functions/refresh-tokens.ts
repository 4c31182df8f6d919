/**
 * The scheduled refresh function: one run of the refresh job, bounded by
 * REFRESH_TIME_BUDGET_MS (the deploy sets it under the function timeout).
 * Dependencies are built once per container; the summary is returned and
 * logged (its `tokens_expiring_unrefreshed` feeds the deploy's alarm).
 * A run that fails as a whole throws, so the schedule's retries and
 * dead-letter queue see it.
 */
import { createBrokerRegistry, parseBrokerSettings } from "../core/brokers";
import { systemClock } from "../core/clock";
import { resolveDatabaseConnection } from "../core/config/database-url";
import { createCipher, createKmsKeyProvider, parseCryptoSettings } from "../core/crypto";
import { createSql } from "../core/db";
import { createLogger } from "../core/log";
import { createTokenService, parseTokenSettings, refreshDueTokens } from "../core/tokens";

const env = process.env;
const logger = createLogger({
  level: env.LOG_LEVEL,
  base: { service: "securities-support", fn: "refresh-tokens" },
});
const tokenSettings = parseTokenSettings(env);
const crypto = parseCryptoSettings(env);
if (!crypto.kmsKeyId) {
  throw new Error(
    "KMS_KEY_ID must be set for the refresh function (the local key file is for npm start).",
  );
}
const kmsKeyId = crypto.kmsKeyId;
const brokers = createBrokerRegistry(parseBrokerSettings(env), { clock: systemClock });

const ready = (async () => {
  const database = await resolveDatabaseConnection(env);
  const sql = createSql(database.url, {
    max: tokenSettings.refreshConcurrency + 2,
    applicationName: "securities-support-refresh",
    ...(database.password ? { password: database.password } : {}),
  });
  const keys = createKmsKeyProvider({ keyId: kmsKeyId });
  const cipher = createCipher({
    sql,
    keys,
    maxDataKeyAgeMs: crypto.maxDataKeyAgeMs,
    maxDataKeyUses: crypto.maxDataKeyUses,
  });
  const tokens = createTokenService({ sql, cipher, brokers, logger, settings: tokenSettings });
  return { sql, tokens };
})();

export async function handler() {
  const { sql, tokens } = await ready;
  return refreshDueTokens({ sql, tokens, logger });
}

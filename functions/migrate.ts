/**
 * The migrate function the pipeline invokes after `sst deploy`:
 * `{"action": "status"|"plan"|"up"|"down", "to"?: N, "allowOutOfOrder"?: true}` → the
 * runner's JSON report. A pending version below the highest applied one is
 * refused unless `allowOutOfOrder` is true (docs/operations.md).
 * Before `up` or `down` changes anything it takes an RDS snapshot (the seed
 * makes a backup mandatory); if the snapshot fails, nothing is migrated, and
 * without DB_INSTANCE_ID it does nothing at all. A failure of any kind is a
 * report with `ok: false`, not a thrown error, so the pipeline reads one
 * document either way.
 */
import { RDSClient } from "@aws-sdk/client-rds";
import { createPreMigrationSnapshot } from "../core/backups";
import { systemClock } from "../core/clock";
import { resolveDatabaseTls, resolveDatabaseUrl } from "../core/database-url";
import type { DatabaseTls } from "../core/db";
import { createMetrics, metricNamespace, recordMigration } from "../core/metrics";
import { type MigrationAction, type MigrationReport, migrate } from "../core/migrations";

const ACTIONS: readonly MigrationAction[] = ["status", "plan", "up", "down"];
const rds = new RDSClient({});
const metrics = createMetrics({ namespace: metricNamespace(process.env.STAGE ?? "dev") });

export interface MigrateEvent {
  action?: unknown;
  to?: unknown;
  allowOutOfOrder?: unknown;
}

type Failure = { ok: false; error: { code: string; message: string } };

/** Runs the migration and writes its outcome as an EMF metric (the MigrateFailed alarm watches it). */
export async function handler(event: MigrateEvent): Promise<MigrationReport | Failure> {
  const report = await run(event);
  recordMigration(metrics, { ok: report.ok, action: String(event?.action) });
  return report;
}

async function run(event: MigrateEvent): Promise<MigrationReport | Failure> {
  const env = process.env;
  const action = event?.action as MigrationAction;
  if (!ACTIONS.includes(action)) {
    return failure(
      "invalid_event",
      `action must be one of ${ACTIONS.join(", ")}, got ${JSON.stringify(event?.action ?? null)}`,
    );
  }
  if (event.to !== undefined && !(Number.isInteger(event.to) && (event.to as number) >= 0)) {
    return failure(
      "invalid_event",
      `to must be a migration version number, got ${JSON.stringify(event.to)}`,
    );
  }
  if (event.allowOutOfOrder !== undefined && typeof event.allowOutOfOrder !== "boolean") {
    return failure(
      "invalid_event",
      `allowOutOfOrder must be true or false, got ${JSON.stringify(event.allowOutOfOrder)}`,
    );
  }
  const instanceId = env.DB_INSTANCE_ID?.trim();
  if (!instanceId) {
    // Without it there is no snapshot, and the seed makes a backup mandatory.
    return failure(
      "database_settings",
      "DB_INSTANCE_ID must name the RDS instance to snapshot before migrating; nothing was done",
    );
  }
  let databaseUrl: string;
  let ssl: DatabaseTls | undefined;
  try {
    databaseUrl = await resolveDatabaseUrl(env);
    ssl = await resolveDatabaseTls(env);
  } catch (error) {
    return failure("database_settings", (error as Error).message);
  }
  const snapshotWaitMs = Number(env.SNAPSHOT_MAX_WAIT_MS) || undefined;
  return migrate({
    databaseUrl,
    ...(ssl ? { ssl } : {}),
    action,
    ...(event.to !== undefined ? { to: event.to as number } : {}),
    allowOutOfOrder: event.allowOutOfOrder === true,
    migrationsDir: env.MIGRATIONS_DIR ?? "migrations",
    snapshot: () =>
      createPreMigrationSnapshot({
        rds,
        instanceId,
        stage: env.STAGE ?? "unknown",
        clock: systemClock,
        ...(snapshotWaitMs ? { maxWaitMs: snapshotWaitMs } : {}),
      }),
  });
}

function failure(code: string, message: string): Failure {
  return { ok: false, error: { code, message } };
}

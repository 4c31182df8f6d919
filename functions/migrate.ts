/**
 * The migrate function the pipeline invokes after `sst deploy`:
 * `{"action": "status"|"plan"|"up"|"down", "to"?: N}` → the runner's JSON report.
 * Before `up` it takes an RDS snapshot (the seed makes a backup mandatory);
 * if the snapshot fails, nothing is migrated. A failure of any kind is a
 * report with `ok: false`, not a thrown error, so the pipeline reads one
 * document either way.
 */
import { RDSClient } from "@aws-sdk/client-rds";
import { createPreMigrationSnapshot } from "../core/backups";
import { systemClock } from "../core/clock";
import { resolveDatabaseUrl } from "../core/config";
import { createMetrics, metricNamespace, recordMigration } from "../core/metrics";
import { type MigrationAction, type MigrationReport, migrate } from "../core/migrations";

const ACTIONS: readonly MigrationAction[] = ["status", "plan", "up", "down"];
const rds = new RDSClient({});
const metrics = createMetrics({ namespace: metricNamespace(process.env.STAGE ?? "dev") });

export interface MigrateEvent {
  action?: unknown;
  to?: unknown;
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
  let databaseUrl: string;
  try {
    databaseUrl = await resolveDatabaseUrl(env);
  } catch (error) {
    return failure("database_settings", (error as Error).message);
  }
  const instanceId = env.DB_INSTANCE_ID;
  const snapshotWaitMs = Number(env.SNAPSHOT_MAX_WAIT_MS) || undefined;
  return migrate({
    databaseUrl,
    action,
    ...(event.to !== undefined ? { to: event.to as number } : {}),
    migrationsDir: env.MIGRATIONS_DIR ?? "migrations",
    backup: false,
    ...(instanceId
      ? {
          beforeUp: () =>
            createPreMigrationSnapshot({
              rds,
              instanceId,
              stage: env.STAGE ?? "unknown",
              clock: systemClock,
              ...(snapshotWaitMs ? { maxWaitMs: snapshotWaitMs } : {}),
            }),
        }
      : {}),
  });
}

function failure(code: string, message: string): Failure {
  return { ok: false, error: { code, message } };
}

/**
 * The migrate function the pipeline invokes after `sst deploy`:
 * `{"action": "status"|"plan"|"up"|"down", "to"?: N}` → the runner's JSON report.
 * A failed migration is a report with `ok: false`, not a thrown error, so the
 * pipeline reads one document either way.
 */
import { type MigrationAction, type MigrationReport, migrate } from "../core/migrations";

const ACTIONS: readonly MigrationAction[] = ["status", "plan", "up", "down"];

export interface MigrateEvent {
  action?: unknown;
  to?: unknown;
}

export async function handler(
  event: MigrateEvent,
): Promise<MigrationReport | { ok: false; error: { code: string; message: string } }> {
  const action = event?.action as MigrationAction;
  if (!ACTIONS.includes(action)) {
    return invalid(
      `action must be one of ${ACTIONS.join(", ")}, got ${JSON.stringify(event?.action ?? null)}`,
    );
  }
  if (event.to !== undefined && !(Number.isInteger(event.to) && (event.to as number) >= 0)) {
    return invalid(`to must be a migration version number, got ${JSON.stringify(event.to)}`);
  }
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) return invalid("DATABASE_URL is not set for the migrate function");
  return migrate({
    databaseUrl,
    action,
    ...(event.to !== undefined ? { to: event.to as number } : {}),
    migrationsDir: process.env.MIGRATIONS_DIR ?? "migrations",
    backup: false,
  });
}

function invalid(message: string) {
  return { ok: false as const, error: { code: "invalid_event", message } };
}

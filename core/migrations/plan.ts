/**
 * What the runner would do, from the migration files and the history table:
 * each version's state, and the steps of an `up` or a `down`. Pure: the
 * runner reads the history and applies the steps.
 */
import { MigrationError } from "./errors";
import type { Migration, MigrationScript } from "./files";

export interface MigrationStatus {
  version: number;
  name: string;
  state: "applied" | "pending" | "changed" | "missing_file";
  appliedAt?: string;
  durationMs?: number;
}

export interface PlannedStep {
  version: number;
  name: string;
  direction: "up" | "down";
  file: string;
  transactional: boolean;
  sql: string;
}

/** One row of the history table. */
export interface HistoryRow {
  version: number;
  name: string;
  checksum: string;
  applied_at: Date;
  duration_ms: number;
}

export interface PlanOptions {
  /** down reverts; the others plan an up (`plan` shows it without applying). */
  action: "status" | "plan" | "up" | "down";
  /** up: apply up to and including this version; down: revert down to (keeping) it. */
  to?: number;
  /** up: apply a pending version lower than the highest applied one (refused otherwise). */
  allowOutOfOrder?: boolean;
}

/** `0014_broker_call_commits`: how a version is named to a person. */
export function versionName(version: number, name: string): string {
  return `${String(version).padStart(4, "0")}_${name}`;
}

export function describeStatus(migrations: Migration[], history: HistoryRow[]): MigrationStatus[] {
  const status: MigrationStatus[] = migrations.map((m) => {
    const row = history.find((h) => h.version === m.version);
    if (!row) return { version: m.version, name: m.name, state: "pending" };
    return {
      version: m.version,
      name: m.name,
      state: row.checksum === m.checksum ? "applied" : "changed",
      appliedAt: row.applied_at.toISOString(),
      durationMs: row.duration_ms,
    };
  });
  for (const row of history) {
    if (!migrations.some((m) => m.version === row.version)) {
      status.push({
        version: row.version,
        name: row.name,
        state: "missing_file",
        appliedAt: row.applied_at.toISOString(),
      });
    }
  }
  return status.sort((a, b) => a.version - b.version);
}

export function checkChecksums(status: MigrationStatus[]): void {
  const changed = status.find((s) => s.state === "changed");
  if (changed) {
    throw new MigrationError(
      "checksum_mismatch",
      `migration ${versionName(changed.version, changed.name)}.sql was edited after it was applied: restore the applied version of the file and put the change in a new migration`,
    );
  }
}

export function planSteps(
  migrations: Migration[],
  history: HistoryRow[],
  options: PlanOptions,
): PlannedStep[] {
  const applied = new Set(history.map((h) => h.version));
  if (options.action === "down") {
    const candidates = migrations.filter((m) => applied.has(m.version)).reverse();
    const target = options.to ?? candidates[1]?.version ?? 0;
    const steps = candidates.filter((m) => m.version > target);
    const irreversible = steps.find((m) => !m.down);
    if (irreversible) {
      throw new MigrationError(
        "irreversible",
        `${irreversible.up.file} has no .down.sql and cannot be reverted${irreversible.version === 1 ? " (the legacy accounts table is never dropped)" : ""}: choose --to ${irreversible.version} or higher`,
      );
    }
    return steps.map((m) => step(m, "down", m.down as MigrationScript));
  }
  const pending = migrations.filter(
    (m) => !applied.has(m.version) && (options.to === undefined || m.version <= options.to),
  );
  if (!options.allowOutOfOrder) refuseOutOfOrder(pending, history);
  return pending.map((m) => step(m, "up", m.up));
}

/**
 * A pending version below the highest applied one would run after it here
 * and before it on a fresh database: the two would end with different
 * schemas (the class of bug 0013 had to patch). Refused, naming both, unless
 * the operator says the order does not matter (`--allow-out-of-order`).
 */
function refuseOutOfOrder(pending: Migration[], history: HistoryRow[]): void {
  const highest = history.reduce<HistoryRow | undefined>(
    (top, row) => (top === undefined || row.version > top.version ? row : top),
    undefined,
  );
  const late = highest && pending.find((m) => m.version < highest.version);
  if (late && highest) {
    throw new MigrationError(
      "out_of_order",
      `migration ${versionName(late.version, late.name)} is pending but ${versionName(highest.version, highest.name)}, a higher version, is already applied: it would run after ${highest.version} here and before it on a fresh database. Renumber it above ${highest.version} (numbers are never reused), or apply it anyway with --allow-out-of-order (the migrate function: "allowOutOfOrder": true) if the order does not matter`,
    );
  }
}

function step(m: Migration, direction: "up" | "down", script: MigrationScript): PlannedStep {
  return {
    version: m.version,
    name: m.name,
    direction,
    file: script.file,
    transactional: script.transactional,
    sql: script.sql,
  };
}

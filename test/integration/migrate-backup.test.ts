import { chmod, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "../../core/migrations";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { createLegacyAccounts } from "../support/legacy";
import { requiredUnderCi, toolOnPath } from "../support/tools";

let dir: string;
const databases: TestDatabase[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "migrate-backup-"));
});

afterAll(async () => {
  for (const db of databases) await db.drop();
  await rm(dir, { recursive: true, force: true });
});

/** A legacy database with crypto accounts in it, not migrated. */
async function legacyDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase({
    migrate: false,
    before: (sql) => createLegacyAccounts(sql, 3),
  });
  databases.push(db);
  return db;
}

async function migrationsApplied(db: TestDatabase): Promise<number> {
  const [history] = await db.sql`SELECT to_regclass('securities_support_migrations') AS t`;
  if (!history?.t) return 0;
  const [row] = await db.sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM securities_support_migrations`;
  return row?.n ?? -1;
}

async function accountColumns(db: TestDatabase): Promise<string[]> {
  const rows = await db.sql<{ name: string }[]>`
    SELECT column_name AS name FROM information_schema.columns
    WHERE table_name = 'accounts' AND table_schema = current_schema() ORDER BY column_name`;
  return rows.map((row) => row.name);
}

/** A pg_dump that reports a version and then fails, like one without access. */
async function failingPgDump(): Promise<string> {
  const path = join(dir, "pg_dump-failing");
  await writeFile(
    path,
    '#!/bin/sh\nif [ "$1" = "--version" ]; then echo "pg_dump (PostgreSQL) 15.0"; exit 0; fi\necho "pg_dump: error: permission denied for table accounts" >&2\nexit 1\n',
  );
  await chmod(path, 0o755);
  return path;
}

describe("the backup before up", () => {
  it("stops and changes nothing when pg_dump is not available", async () => {
    const db = await legacyDatabase();
    const before = await accountColumns(db);
    const report = await migrate({ databaseUrl: db.url, action: "up", dataDir: dir });
    expect(report.ok).toBe(false);
    expect(report.error?.code).toBe("backup_failed");
    expect(report.error?.message).toMatch(
      /^backup failed, nothing was migrated: pg_dump is not on the PATH/,
    );
    expect(report.applied).toEqual([]);
    expect(await migrationsApplied(db)).toBe(0);
    expect(await accountColumns(db)).toEqual(before);
  });

  it("stops and changes nothing when the dump fails", async () => {
    const db = await legacyDatabase();
    const before = await accountColumns(db);
    const report = await migrate({
      databaseUrl: db.url,
      action: "up",
      pgDump: await failingPgDump(),
      backupDir: join(dir, "failed"),
    });
    expect(report.ok).toBe(false);
    expect(report.error?.code).toBe("backup_failed");
    expect(report.error?.message).toContain("permission denied for table accounts");
    expect(await migrationsApplied(db)).toBe(0);
    expect(await accountColumns(db)).toEqual(before);
  });

  it("migrates without a dump when told --no-backup, with a warning", async () => {
    const db = await legacyDatabase();
    const report = await migrate({ databaseUrl: db.url, action: "up", backup: false });
    expect(report.ok).toBe(true);
    expect(report.warnings.join("\n")).toContain("no backup taken (--no-backup)");
    expect(await migrationsApplied(db)).toBeGreaterThan(5);
  });

  it("needs no dump for a database that holds no tables at all", async () => {
    const db = await createTestDatabase({ migrate: false });
    databases.push(db);
    const report = await migrate({ databaseUrl: db.url, action: "up" });
    expect(report.error).toBeUndefined();
    expect(report.ok).toBe(true);
    expect(report.notices).toContain(
      "no backup taken: the database holds no tables yet, so there is nothing to lose",
    );
  });

  it("writes the dump readable by its owner only (it holds legacy plaintext keys)", async (context) => {
    const pgDump = toolOnPath("pg_dump");
    if (!pgDump) {
      context.skip("pg_dump is not installed on this machine");
      return;
    }
    const db = await legacyDatabase();
    const backupDir = join(dir, "dumps");
    const report = await migrate({ databaseUrl: db.url, action: "up", pgDump, backupDir });
    if (!report.ok && /cannot dump a Postgres/.test(report.error?.message ?? "")) {
      requiredUnderCi(`the installed pg_dump is older than the server`);
      context.skip(`the installed pg_dump is older than the server: ${report.error?.message}`);
      return;
    }
    expect(report.error).toBeUndefined();
    expect(report.backup?.kind).toBe("pg_dump");
    const [file] = await readdir(backupDir);
    expect(file).toMatch(/^backup_\d{8}_\d{6}\.sql$/);
    expect((await stat(join(backupDir, file ?? ""))).mode & 0o777).toBe(0o600);
    expect((await stat(backupDir)).mode & 0o077).toBe(0);
  });

  it("snapshots before down too, and reverts nothing when the snapshot fails", async () => {
    const db = await legacyDatabase();
    await migrate({ databaseUrl: db.url, action: "up", backup: false });
    const applied = await migrationsApplied(db);
    const refused = await migrate({
      databaseUrl: db.url,
      action: "down",
      snapshot: async () => {
        throw new Error("snapshot quota exceeded");
      },
    });
    expect(refused.ok).toBe(false);
    expect(refused.error?.message).toBe(
      "backup failed, nothing was migrated: snapshot quota exceeded",
    );
    expect(await migrationsApplied(db)).toBe(applied);
    let snapshots = 0;
    const reverted = await migrate({
      databaseUrl: db.url,
      action: "down",
      snapshot: async () => `snap-${++snapshots}`,
    });
    expect(reverted.error).toBeUndefined();
    expect(reverted.backup).toEqual({ kind: "snapshot", id: "snap-1" });
    expect(await migrationsApplied(db)).toBe(applied - 1);
  });
});

import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "../../core/migrations";
import { runCli } from "../support/cli";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { createLegacyAccounts } from "../support/legacy";

let dir: string;
/** A PATH with node and nothing else: no pg_dump. */
let bareBin: string;
const databases: TestDatabase[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cli-migrations-"));
  bareBin = join(dir, "bin");
  await mkdir(bareBin);
  await symlink(process.execPath, join(bareBin, "node"));
});

afterAll(async () => {
  for (const db of databases) await db.drop();
  await rm(dir, { recursive: true, force: true });
});

async function legacyDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase({
    migrate: false,
    before: (sql) => createLegacyAccounts(sql, 3),
  });
  databases.push(db);
  return db;
}

async function appliedVersions(db: TestDatabase): Promise<number[]> {
  const [history] = await db.sql`SELECT to_regclass('securities_support_migrations') AS t`;
  if (!history?.t) return [];
  const rows = await db.sql<{ version: number }[]>`
    SELECT version FROM securities_support_migrations ORDER BY version`;
  return rows.map((row) => row.version);
}

/**
 * Runs a dev script until it exits (runCli: a process group of its own,
 * killed whole if it outlives its timeout or its test).
 */
async function run(
  script: string,
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  const { code, output } = await runCli(script, [], { LOG_LEVEL: "warn", ...env });
  return { code, output };
}

describe("npm run refresh", () => {
  it("never migrates an unmigrated database: it stops and names the command", async () => {
    const db = await legacyDatabase();
    const result = await run("refresh-cli.ts", { DATABASE_URL: db.url, DATA_DIR: join(dir, "r1") });
    expect(result.code).toBe(1);
    expect(result.output).toContain("the database is not migrated");
    expect(result.output).toContain("run `npm run migrate -- up` first");
    expect(await appliedVersions(db)).toEqual([]);
  });

  it("stops on a database that is behind, applying nothing", async () => {
    const db = await legacyDatabase();
    await migrate({ databaseUrl: db.url, action: "up", to: 3, backup: false });
    const result = await run("refresh-cli.ts", { DATABASE_URL: db.url, DATA_DIR: join(dir, "r2") });
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/the database is not migrated \(0004 pending/);
    expect(await appliedVersions(db)).toEqual([1, 2, 3]);
  });
});

describe("npm start", () => {
  it("migrates only with a backup: without pg_dump it stops and migrates nothing", async () => {
    const db = await legacyDatabase();
    const result = await run("start.ts", {
      DATABASE_URL: db.url,
      DATA_DIR: join(dir, "s1"),
      PATH: bareBin,
      PORT: "0",
      REFRESH_INTERVAL_SECONDS: "0",
    });
    expect(result.code).not.toBe(0);
    expect(result.output).toContain("pg_dump is not on the PATH");
    expect(await appliedVersions(db)).toEqual([]);
  });
});

describe("npm run migrate and the order of versions", () => {
  it("refuses a late version below the highest applied, naming both, and applies it with --allow-out-of-order", async () => {
    const db = await legacyDatabase();
    const migrations = join(dir, "late-migrations");
    await cp(join(import.meta.dirname, "..", "..", "migrations"), migrations, { recursive: true });
    await migrate({ databaseUrl: db.url, action: "up", backup: false, migrationsDir: migrations });
    await writeFile(
      join(migrations, "0010_late_arrival.sql"),
      "CREATE TABLE late_arrival (id INT);\n",
    );
    const env = { DATABASE_URL: db.url, DATA_DIR: join(dir, "m-late") };
    const args = ["up", "--no-backup", "--migrations-dir", migrations];

    const refused = await runCli("migrate-cli.ts", args, env);
    expect(refused.code).toBe(1);
    expect(refused.output).toMatch(
      /migration 0010_late_arrival is pending but \d{4}_\w+, a higher version, is already applied/,
    );
    expect(await appliedVersions(db)).not.toContain(10);

    const allowed = await runCli("migrate-cli.ts", [...args, "--allow-out-of-order"], env);
    expect(allowed.code).toBe(0);
    expect(await appliedVersions(db)).toContain(10);
  });
});

import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateDBSnapshotCommand,
  DescribeDBSnapshotsCommand,
  RDSClient,
} from "@aws-sdk/client-rds";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { METRIC } from "../../core/metrics";
import { handler } from "../../functions/migrate";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { dropEmfOutput, parseEmf } from "../support/emf";
import { createLegacyAccounts } from "../support/legacy";

const rds = mockClient(RDSClient);
let db: TestDatabase;
const saved = { ...process.env };
let restoreOutput: () => void;

beforeAll(async () => {
  restoreOutput = dropEmfOutput();
  db = await createTestDatabase({ migrate: false, before: (sql) => createLegacyAccounts(sql, 5) });
  process.env.DATABASE_URL = db.url;
  process.env.MIGRATIONS_DIR = "migrations";
  process.env.DB_INSTANCE_ID = "securities-db";
  process.env.STAGE = "test";
});
afterEach(() => rds.reset());
afterAll(async () => {
  restoreOutput();
  process.env = saved;
  await db.drop();
});

async function applied(): Promise<number> {
  const [history] = await db.sql`SELECT to_regclass('securities_support_migrations') AS t`;
  if (!history?.t) return 0;
  const [row] = await db.sql<
    { n: number }[]
  >`SELECT count(*)::int AS n FROM securities_support_migrations`;
  return row?.n ?? 0;
}

describe("the migrate function", () => {
  it("refuses an unknown action, naming it", async () => {
    expect(await handler({ action: "upp" })).toEqual({
      ok: false,
      error: {
        code: "invalid_event",
        message: 'action must be one of status, plan, up, down, got "upp"',
      },
    });
  });

  it("refuses to run without DB_INSTANCE_ID, so it never migrates without a snapshot", async () => {
    const { DB_INSTANCE_ID: _, ...without } = process.env;
    process.env = without;
    try {
      for (const action of ["up", "down", "status"]) {
        expect(await handler({ action })).toEqual({
          ok: false,
          error: {
            code: "database_settings",
            message:
              "DB_INSTANCE_ID must name the RDS instance to snapshot before migrating; nothing was done",
          },
        });
      }
    } finally {
      process.env.DB_INSTANCE_ID = "securities-db";
    }
    expect(await applied()).toBe(0);
    expect(rds.commandCalls(CreateDBSnapshotCommand)).toHaveLength(0);
  });

  it("writes each run's outcome as an EMF line, failed for a refused event", async () => {
    const write = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    let written: string[];
    try {
      await handler({ action: "upp" });
      await handler({ action: "status" });
      written = write.mock.calls.map(([chunk]) => String(chunk));
    } finally {
      write.mockRestore();
    }
    const documents = written.filter((line) => line.startsWith('{"_aws"')).map(parseEmf);
    expect(
      documents.map((doc) => [doc.dimensions.Outcome, doc.metrics[METRIC.migrations]?.value]),
    ).toEqual([
      ["failed", 1],
      ["ok", 1],
    ]);
  });

  it("migrates nothing when the RDS snapshot is refused", async () => {
    rds.on(CreateDBSnapshotCommand).rejects(
      Object.assign(new Error("not authorized to rds:CreateDBSnapshot"), {
        name: "AccessDenied",
      }),
    );
    const report = await handler({ action: "up" });
    expect(report.ok).toBe(false);
    expect(report.error?.code).toBe("backup_failed");
    expect(report.error?.message).toMatch(/^backup failed, nothing was migrated/);
    expect(await applied()).toBe(0);
  });

  it("takes a snapshot of the instance before up, then migrates and reports it", async () => {
    rds.on(CreateDBSnapshotCommand).resolves({ DBSnapshot: { Status: "creating" } });
    rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ Status: "available" }] });
    const report = await handler({ action: "up" });
    expect(report.error).toBeUndefined();
    expect(report.ok).toBe(true);
    const create = rds.commandCalls(CreateDBSnapshotCommand)[0]?.args[0].input;
    expect(create?.DBInstanceIdentifier).toBe("securities-db");
    expect("backup" in report && report.backup).toMatchObject({
      kind: "snapshot",
      id: create?.DBSnapshotIdentifier,
    });
    expect(await applied()).toBeGreaterThanOrEqual(5);
  });

  it("takes a snapshot before down too", async () => {
    rds.on(CreateDBSnapshotCommand).resolves({ DBSnapshot: { Status: "creating" } });
    rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ Status: "available" }] });
    const before = await applied();
    const report = await handler({ action: "down" });
    expect(report.error).toBeUndefined();
    expect(rds.commandCalls(CreateDBSnapshotCommand)).toHaveLength(1);
    expect("backup" in report && report.backup).toMatchObject({ kind: "snapshot" });
    expect(await applied()).toBe(before - 1);
    expect((await handler({ action: "up" })).ok).toBe(true);
  });

  it("refuses an allowOutOfOrder that is not a boolean, naming it", async () => {
    expect(await handler({ action: "up", allowOutOfOrder: "yes" })).toEqual({
      ok: false,
      error: {
        code: "invalid_event",
        message: 'allowOutOfOrder must be true or false, got "yes"',
      },
    });
  });

  it("passes allowOutOfOrder on: a late, lower version is refused without it and applied with it", async () => {
    rds.on(CreateDBSnapshotCommand).resolves({ DBSnapshot: { Status: "creating" } });
    rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ Status: "available" }] });
    const dir = await mkdtemp(join(tmpdir(), "migrations-"));
    await cp("migrations", dir, { recursive: true });
    await writeFile(join(dir, "0010_late_arrival.sql"), "CREATE TABLE late_arrival (id INT);\n");
    expect((await handler({ action: "up" })).ok).toBe(true);
    process.env.MIGRATIONS_DIR = dir;
    try {
      const refused = await handler({ action: "up" });
      expect(refused.error?.code).toBe("out_of_order");
      const allowed = await handler({ action: "up", allowOutOfOrder: true });
      expect(allowed.error).toBeUndefined();
      expect("applied" in allowed && allowed.applied.map((step) => step.version)).toEqual([10]);
    } finally {
      process.env.MIGRATIONS_DIR = "migrations";
      await db.sql`DELETE FROM securities_support_migrations WHERE version = 10`;
      await db.sql`DROP TABLE IF EXISTS late_arrival`;
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("answers status without a snapshot", async () => {
    const report = await handler({ action: "status" });
    expect(report.ok).toBe(true);
    expect(rds.commandCalls(CreateDBSnapshotCommand)).toHaveLength(0);
  });
});

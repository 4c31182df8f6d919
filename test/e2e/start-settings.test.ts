/**
 * `npm start` checks every setting before it touches anything: a bad one is
 * refused with one sentence naming it, exit code 1, and the target database
 * and DATA_DIR are left as they were (no backup, no migration).
 */
import { existsSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runCli } from "../support/cli";
import { createTestDatabase, type TestDatabase } from "../support/database";

let db: TestDatabase;
let scratch: string;

beforeAll(async () => {
  db = await createTestDatabase({ migrate: false });
  scratch = await mkdtemp(join(tmpdir(), "securities-support-settings-"));
  await chmod(scratch, 0o755);
});
afterAll(async () => {
  await db?.drop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const cases: [setting: Record<string, string>, sentence: string][] = [
  [
    { LOCAL_MASTER_KEY: "short" },
    "LOCAL_MASTER_KEY must be the base64 encoding of exactly 32 bytes (openssl rand -base64 32)",
  ],
  [{ KIS_REAL_URL: "ftp://x" }, "KIS_REAL_URL must be an absolute http(s) URL."],
  [
    { LOG_LEVEL: "verbose" },
    'LOG_LEVEL must be one of debug, info, warn, error, silent; got "verbose"',
  ],
  [
    { DATABASE_URL: "not-a-url" },
    "DATABASE_URL must be a URL like postgres://user:password@host:5432/database (or unset for the embedded Postgres).",
  ],
  [
    { HOST: "999.1.1.1" },
    'HOST must be an IP address or a name this machine resolves to one, got "999.1.1.1".',
  ],
  [{ SANDBOX_ERROR_RATE: "2" }, 'SANDBOX_ERROR_RATE must be a number from 0 to 1, got "2".'],
  [
    { SANDBOX_LATENCY_MS: "-5" },
    'SANDBOX_LATENCY_MS must be a number of milliseconds, at least 0, got "-5".',
  ],
  [{ PORT: "70000" }, 'PORT must be a whole number from 0 to 65535, got "70000".'],
];

it.each(cases)("npm start with %o refuses before any side effect", async (setting, sentence) => {
  const dataDir = join(scratch, Object.keys(setting)[0] as string);
  const run = await runCli(
    "start.ts",
    [],
    {
      DATABASE_URL: db.url,
      DATA_DIR: dataDir,
      PORT: "0",
      ...setting,
    },
    { timeoutMs: 30_000 },
  );
  expect(run.code).toBe(1);
  // One line: the sentence, no stack trace.
  expect(run.output.trim()).toBe(`npm start: ${sentence}`);
  // Nothing was touched: no schema in the database, no backup, no key file.
  const [tables] = await db.sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'
  `;
  expect(tables?.n).toBe(0);
  expect(existsSync(dataDir)).toBe(false);
});

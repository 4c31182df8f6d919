import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { METRIC } from "../../core/metrics";
import { childDatabaseEnv, createTestDatabase, type TestDatabase } from "../support/database";
import { parseEmf } from "../support/emf";

let db: TestDatabase;
let dataDir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), "securities-support-refresh-"));
});
afterAll(async () => {
  await db?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

it("npm run refresh prints its summary and the run's EMF metric lines", async () => {
  const { stdout } = await promisify(execFile)("npx", ["tsx", "dev/refresh-cli.ts"], {
    env: { ...process.env, ...childDatabaseEnv(db.url), DATA_DIR: dataDir, LOG_LEVEL: "silent" },
  });
  const lines = stdout.split("\n").filter(Boolean);
  expect(lines.some((line) => /^runId=\S+ startedAt=/.test(line))).toBe(true);
  expect(stdout).not.toContain("[object Object]");
  expect(stdout).toMatch(
    / approvalKeys\.due=0 approvalKeys\.issued=0 approvalKeys\.deferred=0 approvalKeys\.failed=0/,
  );
  const documents = lines.filter((line) => line.startsWith('{"_aws"')).map(parseEmf);
  expect(documents[0]?.namespace).toBe("SecuritiesSupport/local");
  expect(documents[0]?.metrics[METRIC.refreshIssued]).toEqual({ value: 0, unit: "Count" });
  expect(documents[0]?.metrics[METRIC.tokensExpiringUnrefreshed]).toEqual({
    value: 0,
    unit: "Count",
  });
});

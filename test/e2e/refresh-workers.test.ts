/**
 * `npm run refresh -- --workers N`: N worker processes of one run against
 * one database, as the user runs it, with the broker sandbox over HTTP.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { systemClock } from "../../core/clock";
import { runCli } from "../support/cli";
import { createTestCipher, type TestCipher } from "../support/crypto";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { startTestBrokerSandbox, type TestBrokerSandbox } from "../support/sandbox";
import { securitiesAccount } from "../support/tokens";

let db: TestDatabase;
let broker: TestBrokerSandbox;
let crypto: TestCipher;

beforeAll(async () => {
  db = await createTestDatabase();
  broker = await startTestBrokerSandbox({ clock: systemClock });
  crypto = createTestCipher(db.sql);
});
afterAll(async () => {
  await broker.stop();
  await db.drop();
});

it("three worker processes refresh every due account once, and print each worker and the totals", async () => {
  for (let i = 0; i < 12; i++) await securitiesAccount(db.sql, crypto.cipher);
  broker.sandbox.configure({ latencyMs: 50 });
  const run = await runCli(
    "refresh-cli.ts",
    ["--workers", "3"],
    {
      ...broker.env,
      DATABASE_URL: db.url,
      LOCAL_MASTER_KEY: crypto.masterKey.toString("base64"),
      REFRESH_CONCURRENCY: "2",
    },
    { timeoutMs: 120_000 },
  );
  expect(run.code, run.output).toBe(0);
  for (const index of [0, 1, 2])
    expect(run.output).toMatch(new RegExp(`^worker ${index}/3: `, "m"));
  // A worker may claim an account another worker has just refreshed: its due
  // list predates that commit. It then finds the token current and issues
  // nothing. So every claim is an issue or a current token, and 12 are issued.
  const totals = run.output.match(
    /^workers=3 wallMs=\d+ due=12 claimed=(\d+) issued=12 current=(\d+) .*failed=0/m,
  );
  expect(totals, run.output).not.toBeNull();
  expect(Number(totals?.[1]) - Number(totals?.[2]), run.output).toBe(12);
  const stats = broker.sandbox.stats();
  expect(stats.issued.total).toBe(12);
  expect(Object.values(stats.issued.byAppKey).every((n) => n === 1)).toBe(true);
}, 150_000);

it("refuses a bad worker count with exit code 2, naming the option", async () => {
  const run = await runCli("refresh-cli.ts", ["--workers", "0"], { DATABASE_URL: db.url });
  expect(run.code).toBe(2);
  expect(run.output).toContain('--workers must be a whole number from 1 to 64, not "0"');
});

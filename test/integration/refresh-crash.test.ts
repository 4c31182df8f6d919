/**
 * Issue 12, fault 2: a refresh run killed with `kill -9` used to hold its
 * claims for the whole time budget plus a lease (about 4.5 minutes), so every
 * run in between claimed nothing and said nothing. Now a run claims only as
 * many accounts as it has idle lanes, for one issuance lease, and the next
 * run says which accounts a dead run still holds and until when.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { systemClock } from "../../core/clock";
import { refreshDueTokens } from "../../core/tokens";
import { createTestCipher, type TestCipher } from "../support/crypto";
import { childDatabaseEnv, createTestDatabase, type TestDatabase } from "../support/database";
import { startTestBrokerSandbox, type TestBrokerSandbox } from "../support/sandbox";
import { securitiesAccount, tokenService } from "../support/tokens";

const LEASE_MS = 5_000;
const CONCURRENCY = 8;
/** What a run claims at most: its lanes and half as many ahead (claimAhead). */
const HELD = 12;
const env = { KIWOOM_MIN_ISSUE_INTERVAL_MS: "1000" };

let db: TestDatabase;
let broker: TestBrokerSandbox;
let crypto: TestCipher;

beforeAll(async () => {
  db = await createTestDatabase();
  broker = await startTestBrokerSandbox({ clock: systemClock, env, timeoutMs: 4_000 });
  crypto = createTestCipher(db.sql);
});
afterAll(async () => {
  await broker.stop();
  await db.drop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it("a run killed with kill -9 blocks its accounts for one lease, and the next run names the dead run's claims", async () => {
  for (let i = 0; i < 30; i++) await securitiesAccount(db.sql, crypto.cipher, { broker: "KIWOOM" });
  broker.sandbox.configure({ latencyMs: 2_000 });
  const tokens = tokenService({
    sql: db.sql,
    cipher: crypto.cipher,
    brokers: broker.registry(),
    clock: systemClock,
    settings: { issueLeaseMs: LEASE_MS, refreshConcurrency: CONCURRENCY },
  });

  // node itself with tsx's loader: the tsx launcher would pass SIGKILL to nobody.
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      join(import.meta.dirname, "..", "..", "dev", "refresh-cli.ts"),
      "--worker",
      "0/1",
    ],
    {
      env: {
        ...process.env,
        ...broker.env,
        ...childDatabaseEnv(db.url),
        LOCAL_MASTER_KEY: crypto.masterKey.toString("base64"),
        TOKEN_ISSUE_LEASE_MS: String(LEASE_MS),
        REFRESH_CONCURRENCY: String(CONCURRENCY),
        // The old claim lasted this long plus a lease.
        REFRESH_TIME_BUDGET_MS: "240000",
      },
      stdio: "ignore",
    },
  );
  const exited = new Promise<string | null>((resolve) =>
    child.on("exit", (_code, signal) => resolve(signal)),
  );
  try {
    // Kill it while the sandbox holds its first broker calls (each takes 2 s).
    const deadline = Date.now() + 30_000;
    for (;;) {
      const [held] = await db.sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM securities_token_state WHERE claimed_until IS NOT NULL
      `;
      if ((held?.n ?? 0) > 0) break;
      if (Date.now() > deadline) throw new Error("the refresh run never claimed an account");
      await sleep(50);
    }
    await sleep(1_000);
  } finally {
    child.kill("SIGKILL");
  }
  expect(await exited).toBe("SIGKILL");
  const killedAt = Date.now();
  await sleep(300);

  const [held] = await db.sql<{ n: number; until: Date | null }[]>`
    SELECT count(*)::int AS n, max(claimed_until) AS until
    FROM securities_token_state WHERE claimed_until > now() AT TIME ZONE 'UTC'
  `;
  // Its lanes and the few claimed ahead, for one lease; not all 30 for the run's whole budget.
  expect(held?.n).toBe(HELD);
  const heldUntil = held?.until?.getTime() ?? Number.NaN;
  expect(heldUntil).toBeLessThanOrEqual(killedAt + LEASE_MS);

  // Right away: the next run works on everything else and names what the dead run holds.
  const next = await refreshDueTokens({ sql: db.sql, tokens });
  expect(next).toMatchObject({
    due: 30,
    claimed: 30 - HELD,
    issued: 30 - HELD,
    claimedElsewhere: HELD,
    claimedByDeadRuns: HELD,
    failed: 0,
  });
  expect(Date.parse(next.deadClaimsExpireAt as string)).toBe(heldUntil);

  // After the lease, the dead run's accounts are taken and refreshed.
  await sleep(Math.max(0, Date.parse(next.deadClaimsExpireAt as string) - Date.now()) + 200);
  const after = await refreshDueTokens({ sql: db.sql, tokens });
  expect(after).toMatchObject({
    due: HELD,
    claimed: HELD,
    issued: HELD,
    claimedByDeadRuns: 0,
    failed: 0,
  });
  const [stored] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM securities_tokens`;
  expect(stored?.n).toBe(30);
}, 60_000);

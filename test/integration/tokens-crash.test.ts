/**
 * A process that dies while it holds the issuance lease: the broker still
 * holds its issue request, so it never committed anything. The next issuer
 * waits until that lease runs out (about TOKEN_ISSUE_LEASE_MS of the dead
 * process), takes the lease and issues; nothing of the dead process remains.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { accountBinding, tokenBinding } from "../../core/accounts";
import { systemClock } from "../../core/clock";
import { createTestCipher, type TestCipher } from "../support/crypto";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { startTestBrokerSandbox, type TestBrokerSandbox } from "../support/sandbox";
import { securitiesAccount, tokenService } from "../support/tokens";

const CHILD_LEASE_MS = 4_000;
let db: TestDatabase;
let broker: TestBrokerSandbox;
let crypto: TestCipher;

beforeAll(async () => {
  db = await createTestDatabase();
  broker = await startTestBrokerSandbox({
    clock: systemClock,
    env: { KIWOOM_MIN_ISSUE_INTERVAL_MS: "1000" },
  });
  crypto = createTestCipher(db.sql);
});
afterAll(async () => {
  await broker.stop();
  await db.drop();
});

async function storedTokens(accountId: number) {
  const [row] = await db.sql<{ store: string | null; mirror: string | null }[]>`
    SELECT st.access_token AS store, a.access_token AS mirror
    FROM accounts a LEFT JOIN securities_tokens st ON st.account_id = a.id WHERE a.id = ${accountId}
  `;
  return {
    store: row?.store ? await crypto.cipher.decrypt(row.store, tokenBinding(accountId)) : null,
    mirror: row?.mirror
      ? await crypto.cipher.decrypt(row.mirror, accountBinding("access_token", accountId))
      : null,
  };
}

async function slot() {
  const [row] = await db.sql<{ lease_owner: string | null; lease_until: Date | null }[]>`
    SELECT lease_owner, lease_until FROM broker_issuance_slots
  `;
  return row;
}

it("a process killed while the broker holds its issue request leaves nothing; the next issuer waits out its lease, takes it and issues", async () => {
  const account = await securitiesAccount(db.sql, crypto.cipher, { broker: "KIWOOM" });
  // The broker answers nobody for a minute: the child's request stays in flight.
  broker.sandbox.configure({ latencyMs: 60_000 });
  // One node process (no tsx wrapper in between), so SIGKILL kills the issuer itself.
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(import.meta.dirname, "..", "support", "issue-child.ts")],
    {
      cwd: join(import.meta.dirname, "..", ".."),
      env: {
        ...process.env,
        ...broker.env,
        CHILD_DATABASE_URL: db.url,
        CHILD_MASTER_KEY: crypto.masterKey.toString("base64"),
        CHILD_ACCOUNT_ID: String(account.id),
        CHILD_LEASE_MS: String(CHILD_LEASE_MS),
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let childOutput = "";
  child.stdout.on("data", (chunk) => {
    childOutput += String(chunk);
  });
  const exited = new Promise<string | null>((resolve) =>
    child.on("exit", (_code, signal) => resolve(signal)),
  );
  let childLease: Awaited<ReturnType<typeof slot>>;
  try {
    const deadline = Date.now() + 30_000;
    while (broker.sandbox.stats().requests < 1) {
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error("the child never reached the broker");
      await new Promise((r) => setTimeout(r, 20));
    }
    childLease = await slot();
  } finally {
    child.kill("SIGKILL");
  }
  expect(await exited).toBe("SIGKILL");
  expect(childOutput).not.toContain("committed");
  broker.sandbox.configure({ latencyMs: 0 });

  // The dead child held the lease and committed nothing.
  expect(childLease?.lease_owner).toBeTruthy();
  const leaseLeftMs = (childLease?.lease_until ?? new Date(0)).getTime() - Date.now();
  expect(leaseLeftMs).toBeGreaterThan(1_000);
  expect(await storedTokens(account.id)).toEqual({ store: null, mirror: null });

  const tokens = tokenService({
    sql: db.sql,
    cipher: crypto.cipher,
    brokers: broker.registry(),
    clock: systemClock,
    settings: { issueWaitMs: 20_000 },
  });
  const asked = Date.now();
  const fresh = await tokens.getValidToken(account.id);
  const waited = Date.now() - asked;
  // It waited for the dead child's lease to run out (polling every 100 ms), not less, not much more.
  expect(waited).toBeGreaterThanOrEqual(leaseLeftMs - 100);
  expect(waited).toBeLessThan(leaseLeftMs + 2_000);
  expect(fresh.accessToken).toMatch(/^kw-/);
  expect(await storedTokens(account.id)).toEqual({
    store: fresh.accessToken,
    mirror: fresh.accessToken,
  });
  // The parent took the lease over (and released it after issuing).
  const after = await slot();
  expect(after?.lease_owner ?? null).not.toBe(childLease?.lease_owner);
  // Two issue requests reached the broker: the child's, never answered, and the parent's.
  expect(broker.sandbox.stats().requests).toBe(2);
}, 60_000);

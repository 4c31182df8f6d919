import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { accountBinding, tokenBinding } from "../../core/accounts";
import { systemClock } from "../../core/clock";
import { createTestCipher, type TestCipher } from "../support/crypto";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { startTestBrokerSandbox, type TestBrokerSandbox } from "../support/sandbox";
import { securitiesAccount, tokenService } from "../support/tokens";

let db: TestDatabase;
let broker: TestBrokerSandbox;
let crypto: TestCipher;
const env = { KIWOOM_MIN_ISSUE_INTERVAL_MS: "1000" };

beforeAll(async () => {
  db = await createTestDatabase();
  broker = await startTestBrokerSandbox({ clock: systemClock, env });
  crypto = createTestCipher(db.sql);
});
afterAll(async () => {
  await broker.stop();
  await db.drop();
});

async function tokensOf(accountId: number) {
  const [row] = await db.sql<{ store: string; mirror: string }[]>`
    SELECT st.access_token AS store, a.access_token AS mirror
    FROM accounts a JOIN securities_tokens st ON st.account_id = a.id WHERE a.id = ${accountId}
  `;
  return {
    store: await crypto.cipher.decrypt(row?.store as string, tokenBinding(accountId)),
    mirror: await crypto.cipher.decrypt(
      row?.mirror as string,
      accountBinding("access_token", accountId),
    ),
  };
}

it("a process killed between the broker's answer and its commit leaves the old token, mirrored, and the next issuer recovers", async () => {
  const account = await securitiesAccount(db.sql, crypto.cipher, { broker: "KIWOOM" });
  const tokens = tokenService({
    sql: db.sql,
    cipher: crypto.cipher,
    brokers: broker.registry(),
    clock: systemClock,
  });
  const old = await tokens.getValidToken(account.id);
  await new Promise((r) => setTimeout(r, 1_100));
  await tokens.invalidate(account.id);

  // Hold the account row so the child's token transaction blocks before it can commit.
  const holder = await db.sql.reserve();
  await holder`BEGIN`;
  await holder`SELECT id FROM accounts WHERE id = ${account.id} FOR UPDATE`;
  const child = spawn(
    join(import.meta.dirname, "..", "..", "node_modules", ".bin", "tsx"),
    [join(import.meta.dirname, "..", "support", "issue-child.ts")],
    {
      env: {
        ...process.env,
        ...broker.env,
        CHILD_DATABASE_URL: db.url,
        CHILD_MASTER_KEY: crypto.masterKey.toString("base64"),
        CHILD_ACCOUNT_ID: String(account.id),
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const exited = new Promise<string | null>((resolve) =>
    child.on("exit", (_code, signal) => resolve(signal)),
  );
  try {
    const deadline = Date.now() + 30_000;
    while (broker.sandbox.stats().issued.total < 2) {
      if (Date.now() > deadline) throw new Error("the child never reached the broker");
      await new Promise((r) => setTimeout(r, 20));
    }
    // The broker has answered; give the child time to reach its blocked transaction.
    await new Promise((r) => setTimeout(r, 500));
    child.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");
  } finally {
    await holder`ROLLBACK`;
    holder.release();
  }

  // The child's commit is one statement: the server either never ran it (old
  // token) or finished it after the lock was released (new token). Either
  // way the store and its legacy mirror agree.
  const afterCrash = await tokensOf(account.id);
  expect(afterCrash.mirror).toBe(afterCrash.store);
  expect(afterCrash.store).toMatch(/^kw-/);

  // Whatever the child left, the next caller gets a working token within the broker's pace.
  const fresh = await tokens.getValidToken(account.id);
  expect(fresh.accessToken).not.toBe(old.accessToken);
  const recovered = await tokensOf(account.id);
  expect(recovered).toEqual({ store: fresh.accessToken, mirror: fresh.accessToken });
  expect(broker.sandbox.stats().rejections.total).toBe(0);
});

/**
 * The token commit's guard (core/tokens/store.ts commitToken), clause by
 * clause: a mutation trial dropped `AND a.is_active`, dropped the api_secret
 * comparison, or made the sibling-source guard `true`, and every test still
 * passed. Each clause now has a test of its own, against the real statement.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  type Account,
  accountBinding,
  type CredentialStamp,
  loadBrokerCredentials,
} from "../../core/accounts";
import { systemClock } from "../../core/clock";
import { commitToken } from "../../core/tokens/store";
import { createTestCipher, type TestCipher } from "../support/crypto";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { securitiesAccount } from "../support/tokens";

let db: TestDatabase;
let crypto: TestCipher;

beforeAll(async () => {
  db = await createTestDatabase();
  crypto = createTestCipher(db.sql, { clock: systemClock });
});
afterAll(async () => {
  await db?.drop();
});

let account: Account;
let stamp: CredentialStamp;

beforeEach(async () => {
  account = await securitiesAccount(db.sql, crypto.cipher);
  const credentials = await loadBrokerCredentials(db.sql, crypto.cipher, account.id);
  stamp = credentials.stamp as CredentialStamp;
});

/** Commits a token for `accountId` under `guard`: true when stored. */
async function commit(
  accountId: number,
  guard: { stamp: CredentialStamp; source?: { accountId: number; refreshedAt: Date } },
): Promise<boolean> {
  const now = new Date();
  return commitToken(
    db.sql,
    {
      accountId,
      storeCiphertext: `store-${accountId}-${now.getTime()}`,
      mirrorCiphertext: `mirror-${accountId}-${now.getTime()}`,
      tokenType: "Bearer",
      expiresIn: 86_400,
      expiresAt: new Date(now.getTime() + 86_400_000),
      refreshedAt: now,
      credentialKey: "k",
    },
    guard,
    {
      accountId,
      at: now,
      action: "issue",
      outcome: "ok",
      trigger: "test",
      broker: "KIS",
      environment: "real",
    },
  );
}

/** The account's secret column replaced by a new ciphertext of `value`, as a PATCH writes it. */
async function rewrite(column: "api_key" | "api_secret", value: string): Promise<void> {
  const ciphertext = await crypto.cipher.encrypt(value, accountBinding(column, account.id));
  await db.sql`UPDATE accounts SET ${db.sql({ [column]: ciphertext })} WHERE id = ${account.id}`;
}

describe("a token commit", () => {
  it("is stored while the account holds the credential columns it was issued under", async () => {
    expect(await commit(account.id, { stamp })).toBe(true);
  });

  it("is refused once the account was deactivated", async () => {
    await db.sql`UPDATE accounts SET is_active = false WHERE id = ${account.id}`;
    expect(await commit(account.id, { stamp })).toBe(false);
    const [row] = await db.sql`SELECT 1 FROM securities_tokens WHERE account_id = ${account.id}`;
    expect(row).toBeUndefined();
  });

  it("is refused once the app secret changed, the app key staying", async () => {
    await rewrite("api_secret", "a-new-secret");
    expect(await commit(account.id, { stamp })).toBe(false);
  });

  it("is refused once the app key changed", async () => {
    await rewrite("api_key", "PSanotherAppKey00001");
    expect(await commit(account.id, { stamp })).toBe(false);
  });

  it("is refused once the securities config's ciphertext changed (the service re-reads it first)", async () => {
    const config = await crypto.cipher.encrypt(
      JSON.stringify({ account_number: "87654321" }),
      accountBinding("securities_config", account.id),
    );
    await db.sql`UPDATE accounts SET securities_config = ${config} WHERE id = ${account.id}`;
    expect(await commit(account.id, { stamp })).toBe(false);
  });
});

describe("a shared token's commit", () => {
  it("is stored while the sibling still holds the token as it was read", async () => {
    const sibling = await securitiesAccount(db.sql, crypto.cipher);
    expect(await commit(sibling.id, { stamp: await stampOf(sibling.id) })).toBe(true);
    const refreshedAt = await refreshedAtOf(sibling.id);
    expect(
      await commit(account.id, { stamp, source: { accountId: sibling.id, refreshedAt } }),
    ).toBe(true);
  });

  it("is refused once the sibling's token was replaced since it was read", async () => {
    const sibling = await securitiesAccount(db.sql, crypto.cipher);
    expect(await commit(sibling.id, { stamp: await stampOf(sibling.id) })).toBe(true);
    const readAt = await refreshedAtOf(sibling.id);
    await db.sql`
      UPDATE securities_tokens SET last_refreshed_at = last_refreshed_at + interval '1 second'
      WHERE account_id = ${sibling.id}`;
    expect(
      await commit(account.id, { stamp, source: { accountId: sibling.id, refreshedAt: readAt } }),
    ).toBe(false);
  });

  it("is refused once the sibling's token is gone", async () => {
    const sibling = await securitiesAccount(db.sql, crypto.cipher);
    expect(await commit(sibling.id, { stamp: await stampOf(sibling.id) })).toBe(true);
    const readAt = await refreshedAtOf(sibling.id);
    await db.sql`DELETE FROM securities_tokens WHERE account_id = ${sibling.id}`;
    expect(
      await commit(account.id, { stamp, source: { accountId: sibling.id, refreshedAt: readAt } }),
    ).toBe(false);
  });
});

async function stampOf(accountId: number): Promise<CredentialStamp> {
  return (await loadBrokerCredentials(db.sql, crypto.cipher, accountId)).stamp as CredentialStamp;
}

async function refreshedAtOf(accountId: number): Promise<Date> {
  const [row] = await db.sql<{ at: Date }[]>`
    SELECT last_refreshed_at AS at FROM securities_tokens WHERE account_id = ${accountId}`;
  if (!row) throw new Error(`account ${accountId} has no token`);
  return row.at;
}

/**
 * The refresh claim on its own (claimDueAccounts): the due list is read once
 * per run, so the claim checks again that an account is not backing off,
 * not held, and not refreshed meanwhile. A mutation trial removed the
 * backoff check and every test passed: the due query masked it.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { systemClock } from "../../core/clock";
import { claimDueAccounts } from "../../core/tokens/refresh-claims";
import { createTestCipher, type TestCipher } from "../support/crypto";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { securitiesAccount } from "../support/tokens";

let db: TestDatabase;
let crypto: TestCipher;
let accountId: number;

beforeAll(async () => {
  db = await createTestDatabase();
  crypto = createTestCipher(db.sql, { clock: systemClock });
});
afterAll(async () => {
  await db?.drop();
});
beforeEach(async () => {
  accountId = (await securitiesAccount(db.sql, crypto.cipher)).id;
});

const claim = (readAt = new Date(Date.now() - 60_000)) =>
  claimDueAccounts(db.sql, {
    ids: [accountId],
    runId: "this-run",
    leaseMs: 30_000,
    readAt,
    now: new Date(),
  });

describe("a refresh claim", () => {
  it("takes an account nobody holds", async () => {
    expect(await claim()).toEqual([accountId]);
  });

  it("passes over an account that started backing off after the run read it as due", async () => {
    await db.sql`
      INSERT INTO securities_token_state (account_id, consecutive_failures, next_attempt_at)
      VALUES (${accountId}, 1, ${new Date(Date.now() + 60_000)})`;
    expect(await claim()).toEqual([]);
  });

  it("takes an account whose backoff has ended", async () => {
    await db.sql`
      INSERT INTO securities_token_state (account_id, consecutive_failures, next_attempt_at)
      VALUES (${accountId}, 1, ${new Date(Date.now() - 1_000)})`;
    expect(await claim()).toEqual([accountId]);
  });

  it("passes over an account another run holds", async () => {
    await db.sql`
      INSERT INTO securities_token_state (account_id, claimed_by, claimed_until)
      VALUES (${accountId}, 'another-run', clock_timestamp()::timestamp + interval '30 seconds')`;
    expect(await claim()).toEqual([]);
  });

  it("passes over an account refreshed since the run read it", async () => {
    const readAt = new Date(Date.now() - 60_000);
    await db.sql`
      INSERT INTO securities_tokens (account_id, access_token, token_type, expires_in, expires_at, created_at, last_refreshed_at)
      VALUES (${accountId}, 'x', 'Bearer', 86400, ${new Date(Date.now() + 86_400_000)}, ${new Date()}, ${new Date()})`;
    expect(await claim(readAt)).toEqual([]);
  });
});

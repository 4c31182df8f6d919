/**
 * Paths of the token lifecycle the other tests left alone: a sibling
 * account's token reused (two accounts on one app key), the refresh run's
 * `expiring_unrefreshed` count the deploy's alarm watches, and the failure
 * backoff's doubling up to its cap. Expected values are written out.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { tokenBinding } from "../../core/accounts";
import { refreshDueTokens } from "../../core/tokens";
import type { TestCipher } from "../support/crypto";
import type { TestDatabase } from "../support/database";
import { resetSandbox, type TestBrokerSandbox } from "../support/sandbox";
import {
  type OffsetClock,
  securitiesAccount,
  tokenService,
  useTokenTestBed,
} from "../support/tokens";

let db: TestDatabase;
let broker: TestBrokerSandbox;
let clock: OffsetClock;
let crypto: TestCipher;

// Kiwoom's pace at its floor, so the backoff, not the pace, decides when a failed account is retried.
const advance = useTokenTestBed(
  (bed) => {
    ({ db, clock, broker, crypto } = bed);
  },
  { sandboxEnv: { KIWOOM_MIN_ISSUE_INTERVAL_MS: "1000" } },
);
beforeEach(async () => {
  resetSandbox(broker.sandbox);
  await db.sql`DELETE FROM accounts`;
  await db.sql`DELETE FROM broker_issuance_slots`;
  await advance(120_000);
});

const service = (settings: Parameters<typeof tokenService>[0]["settings"] = {}) =>
  tokenService({ sql: db.sql, cipher: crypto.cipher, brokers: broker.registry(), clock, settings });

async function storedToken(accountId: number): Promise<string | null> {
  const [row] = await db.sql<{ access_token: string }[]>`
    SELECT access_token FROM securities_tokens WHERE account_id = ${accountId}
  `;
  return row ? crypto.cipher.decrypt(row.access_token, tokenBinding(accountId)) : null;
}

describe("sibling token reuse", () => {
  it("a second account on the same Kiwoom app key gets the first one's token, stored under its own binding, without a second issue", async () => {
    const appKey = "PSsharedkiwoomkey000000001";
    const first = await securitiesAccount(db.sql, crypto.cipher, { broker: "KIWOOM", appKey });
    const second = await securitiesAccount(db.sql, crypto.cipher, { broker: "KIWOOM", appKey });
    const tokens = service();
    const a = await tokens.getValidToken(first.id);
    const b = await tokens.getValidToken(second.id);
    expect(b.accessToken).toBe(a.accessToken);
    expect(broker.sandbox.stats().issued).toMatchObject({
      total: 1,
      byAppKey: { [appKey]: 1 },
    });
    // Each account holds its own ciphertext of the shared token.
    expect(await storedToken(second.id)).toBe(a.accessToken);
    const [rows] = await db.sql<{ same: boolean }[]>`
      SELECT (SELECT access_token FROM securities_tokens WHERE account_id = ${first.id})
           = (SELECT access_token FROM securities_tokens WHERE account_id = ${second.id}) AS same
    `;
    expect(rows?.same).toBe(false);
  });

  it("a refresh run issues for one account of the key and reuses for the other", async () => {
    const appKey = "PSsharedkiwoomkey000000002";
    const first = await securitiesAccount(db.sql, crypto.cipher, { broker: "KIWOOM", appKey });
    const second = await securitiesAccount(db.sql, crypto.cipher, { broker: "KIWOOM", appKey });
    const summary = await refreshDueTokens({
      sql: db.sql,
      tokens: service({ refreshConcurrency: 1 }),
      clock,
    });
    expect(summary).toMatchObject({ due: 2, issued: 1, reused: 1, failed: 0, deferred: 0 });
    expect(await storedToken(second.id)).toBe(await storedToken(first.id));
    expect(broker.sandbox.stats().issued.total).toBe(1);
  });
});

describe("the refresh run's expiring_unrefreshed count", () => {
  it("counts active securities accounts whose token is missing or expires within the hour, after the run", async () => {
    const tokens = service();
    const fresh = await securitiesAccount(db.sql, crypto.cipher, { broker: "KIWOOM" });
    const soon = await securitiesAccount(db.sql, crypto.cipher, { broker: "KIWOOM" });
    const later = await securitiesAccount(db.sql, crypto.cipher, { broker: "KIWOOM" });
    for (const account of [fresh, soon, later]) await tokens.getValidToken(account.id);
    await advance(120_000);
    // Two tokens near expiry whose refresh is held back by a backoff: one
    // inside the hour (counted), one just outside it (not counted).
    const now = clock.now().getTime();
    await db.sql`UPDATE securities_tokens SET expires_at = ${new Date(now + 59 * 60_000)} WHERE account_id = ${soon.id}`;
    await db.sql`UPDATE securities_tokens SET expires_at = ${new Date(now + 61 * 60_000)} WHERE account_id = ${later.id}`;
    await db.sql`
      INSERT INTO securities_token_state (account_id, consecutive_failures, next_attempt_at)
      VALUES (${soon.id}, 1, ${new Date(now + 3_600_000)}), (${later.id}, 1, ${new Date(now + 3_600_000)})
      ON CONFLICT (account_id) DO UPDATE
        SET consecutive_failures = 1, next_attempt_at = EXCLUDED.next_attempt_at
    `;
    // A new account whose issue fails now: no token after the run (counted).
    const failing = await securitiesAccount(db.sql, crypto.cipher, { broker: "KIS" });
    broker.sandbox.configure({ failNext: ["server_error"] });
    // Neither an inactive securities account nor a crypto account counts.
    const inactive = await securitiesAccount(db.sql, crypto.cipher, { broker: "KIS" });
    await db.sql`UPDATE accounts SET is_active = false WHERE id = ${inactive.id}`;
    await db.sql`INSERT INTO accounts (name, exchange, api_key, api_secret) VALUES ('crypto', 'upbit', 'k', 's')`;

    const summary = await refreshDueTokens({ sql: db.sql, tokens, clock });
    expect(summary).toMatchObject({ due: 1, failed: 1, expiringUnrefreshed: 2 });
    expect(summary.failures.map((f) => f.accountId)).toEqual([failing.id]);
    expect(broker.sandbox.stats().faults.server_error).toBe(1);
  });
});

describe("the failure backoff", () => {
  it("doubles from its base per consecutive failure and stops at its cap", async () => {
    const account = await securitiesAccount(db.sql, crypto.cipher, { broker: "KIWOOM" });
    const tokens = service({ backoffBaseMs: 1_000, backoffMaxMs: 4_000 });
    broker.sandbox.configure({ errorRate: 1, errorKinds: ["server_error"] });
    const delays: number[] = [];
    for (let run = 0; run < 5; run++) {
      const summary = await refreshDueTokens({ sql: db.sql, tokens, clock });
      expect(summary, `run ${run}`).toMatchObject({ failed: 1 });
      const [state] = await db.sql<
        { consecutive_failures: number; last_error_at: Date; next_attempt_at: Date }[]
      >`
        SELECT consecutive_failures, last_error_at, next_attempt_at
        FROM securities_token_state WHERE account_id = ${account.id}
      `;
      expect(state?.consecutive_failures).toBe(run + 1);
      delays.push((state?.next_attempt_at.getTime() ?? 0) - (state?.last_error_at.getTime() ?? 0));
      // Before the next attempt is due, a run leaves the account alone.
      expect((await refreshDueTokens({ sql: db.sql, tokens, clock })).due).toBe(0);
      await advance(4_001);
    }
    expect(delays).toEqual([1_000, 2_000, 4_000, 4_000, 4_000]);
  });
});

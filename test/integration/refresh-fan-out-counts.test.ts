/**
 * Issue 22 item 6: a fanned-out run's workers each reported the accounts
 * held by dead runs and the deferred ones, so their sum counted one account
 * once per worker (61 and 33 "held by dead runs" where 11 were held, 24
 * deferred for 8). Summed over the workers, each account now counts once.
 */
import { beforeEach, expect, it } from "vitest";
import { credentialKey, type RefreshSummary, refreshDueTokens } from "../../core/tokens";
import type { TestCipher } from "../support/crypto";
import type { TestDatabase } from "../support/database";
import type { TestBrokerSandbox } from "../support/sandbox";
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

useTokenTestBed((bed) => {
  ({ db, clock, broker, crypto } = bed);
});
beforeEach(async () => {
  await db.sql`DELETE FROM accounts`;
  await db.sql`DELETE FROM broker_issuance_slots`;
  clock.advance(120_000);
});

const WORKERS = 3;

/** The fan-out's workers one after the other (deterministic), each its own run. */
async function fanOut(): Promise<RefreshSummary[]> {
  const tokens = tokenService({
    sql: db.sql,
    cipher: crypto.cipher,
    brokers: broker.registry(),
    clock,
    settings: { refreshConcurrency: 2 },
  });
  const summaries: RefreshSummary[] = [];
  for (let index = 0; index < WORKERS; index++) {
    summaries.push(
      await refreshDueTokens({ sql: db.sql, tokens, clock }, { worker: { index, count: WORKERS } }),
    );
  }
  return summaries;
}

const sum = (
  summaries: RefreshSummary[],
  key: "claimedElsewhere" | "claimedByDeadRuns" | "deferred",
) => summaries.reduce((total, s) => total + s[key], 0);

it("accounts held by a dead run count once over the workers of a fan-out", async () => {
  const ids: number[] = [];
  for (let i = 0; i < 9; i++) ids.push((await securitiesAccount(db.sql, crypto.cipher)).id);
  const held = ids.slice(0, 5);
  // A run that died holding five claims: it holds no liveness lock.
  await db.sql`
    INSERT INTO securities_token_state (account_id, claimed_by, claimed_until)
    SELECT id, 'a-dead-run', clock_timestamp()::timestamp + interval '1 minute'
    FROM unnest(${held}::int[]) AS t(id)`;
  const summaries = await fanOut();
  expect(sum(summaries, "claimedByDeadRuns")).toBe(5);
  expect(sum(summaries, "claimedElsewhere")).toBe(5);
  expect(summaries.reduce((total, s) => total + s.issued, 0)).toBe(4);
});

it("an account deferred by its app key's pace counts once over the workers of a fan-out", async () => {
  const account = await securitiesAccount(db.sql, crypto.cipher);
  await securitiesAccount(db.sql, crypto.cipher);
  // The broker's pace for this app key allows the next issue only in a minute.
  await db.sql`
    INSERT INTO broker_issuance_slots (credential_key, broker, environment, next_allowed_at)
    VALUES (${credentialKey("KIS", "real", account.apiKey as string)}, 'KIS', 'real',
            clock_timestamp()::timestamp + interval '1 minute')`;
  const summaries = await fanOut();
  expect(sum(summaries, "deferred")).toBe(1);
  expect(summaries.reduce((total, s) => total + s.issued, 0)).toBe(1);
  const [state] = await db.sql<{ claimed_by: string | null }[]>`
    SELECT claimed_by FROM securities_token_state WHERE account_id = ${account.id}`;
  expect(state?.claimed_by).toBeNull();
});

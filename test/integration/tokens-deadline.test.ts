/**
 * The issuance deadline budget (core/tokens/issuance.ts): no issuance slot is
 * claimed unless the broker call (issueCallBudgetMs) still fits before the
 * caller's deadline. A mutation trial halved the budget and every test
 * passed; these test both sides of it.
 */
import { beforeEach, expect, it } from "vitest";
import { TokenIssuanceDeferredError } from "../../core/tokens";
import type { TestCipher } from "../support/crypto";
import type { TestDatabase } from "../support/database";
import type { TestBrokerSandbox } from "../support/sandbox";
import {
  type OffsetClock,
  securitiesAccount,
  tokenService,
  useTokenTestBed,
} from "../support/tokens";

const BUDGET_MS = 4_000;
let db: TestDatabase;
let broker: TestBrokerSandbox;
let clock: OffsetClock;
let crypto: TestCipher;

useTokenTestBed((bed) => {
  ({ db, clock, broker, crypto } = bed);
});
beforeEach(() => {
  broker.sandbox.resetStats();
});

const service = () =>
  tokenService({
    sql: db.sql,
    cipher: crypto.cipher,
    brokers: broker.registry(),
    clock,
    settings: { issueCallBudgetMs: BUDGET_MS },
  });

it("a deadline closer than the broker call's budget (three quarters of it) claims nothing and sends nothing", async () => {
  const account = await securitiesAccount(db.sql, crypto.cipher);
  const deadline = new Date(clock.now().getTime() + BUDGET_MS * 0.75);
  await expect(service().getValidToken(account.id, { deadline })).rejects.toBeInstanceOf(
    TokenIssuanceDeferredError,
  );
  expect(broker.sandbox.stats().issued.total).toBe(0);
  const slots = await db.sql`SELECT 1 FROM broker_issuance_slots WHERE lease_owner IS NOT NULL`;
  expect(slots).toHaveLength(0);
});

it("a deadline the broker call's budget fits before (with a quarter to spare) issues the token", async () => {
  const account = await securitiesAccount(db.sql, crypto.cipher);
  const deadline = new Date(clock.now().getTime() + BUDGET_MS * 1.25);
  const token = await service().getValidToken(account.id, { deadline });
  expect(token.accessToken).toBeTruthy();
  expect(broker.sandbox.stats().issued.total).toBe(1);
});

import { afterAll, beforeAll, beforeEach, expect, it } from "vitest";
import type { Clock } from "../../core/clock";
import { systemClock } from "../../core/clock";
import { TokenIssuanceDeferredError } from "../../core/tokens";
import { createTestCipher, type TestCipher } from "../support/crypto";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { startTestBrokerSandbox, type TestBrokerSandbox } from "../support/sandbox";
import { securitiesAccount, tokenService } from "../support/tokens";

// Two "processes" whose clocks disagree, as two Lambda hosts' may: leases and
// the broker's pace must hold anyway, because they are judged on one clock,
// the database's. The sandbox runs on real time, like the real brokers.
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
beforeEach(() => {
  broker.sandbox.resetStats();
  broker.sandbox.configure({ latencyMs: 0 });
});

/** A clock running `skewMs` ahead of this machine's. */
const ahead = (skewMs: number): Clock => ({ now: () => new Date(Date.now() + skewMs) });

const serviceOn = (clock: Clock) =>
  tokenService({
    sql: db.sql,
    cipher: crypto.cipher,
    brokers: broker.registry({ clock }),
    clock,
    settings: { issueWaitMs: 0, issueLeaseMs: 30_000 },
  });

it("a process whose clock runs two minutes ahead does not break KIS's one-a-minute pace set by another", async () => {
  const account = await securitiesAccount(db.sql, crypto.cipher, { broker: "KIS" });
  await serviceOn(systemClock).getValidToken(account.id);
  const error = await serviceOn(ahead(120_000))
    .forceRefresh(account.id)
    .catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(TokenIssuanceDeferredError);
  expect(broker.sandbox.stats().rejections.byCode.EGW00133).toBeUndefined();
  expect(broker.sandbox.stats().issued.total).toBe(1);
});

it("a process whose clock runs a minute ahead does not take a lease another still holds", async () => {
  const account = await securitiesAccount(db.sql, crypto.cipher, { broker: "KIWOOM" });
  broker.sandbox.configure({ latencyMs: 1_500 });
  const first = serviceOn(systemClock).getValidToken(account.id);
  // Let the first process claim the lease and reach the broker.
  for (;;) {
    const [slot] =
      await db.sql`SELECT lease_owner FROM broker_issuance_slots WHERE lease_owner IS NOT NULL`;
    if (slot) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const second = await serviceOn(ahead(60_000))
    .getValidToken(account.id)
    .catch((caught: unknown) => caught);
  await first;
  expect(second).toBeInstanceOf(TokenIssuanceDeferredError);
  expect(broker.sandbox.stats().issued.total).toBe(1);
});

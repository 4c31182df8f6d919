/**
 * The gateway's lateness allowance (core/gateway/gateway.ts onTime): a call
 * that reaches the wire more than half the jitter allowance after its slot
 * books another slot and waits for it; one less late goes at once. A
 * mutation trial made the allowance four times as wide (`jitterMs * 2`) and
 * every test passed. Here a connection handed over late is simulated at the
 * one place it happens (the transport's `connected` hook); everything else is
 * real: the database's pacing, the token service and the sandbox over HTTP.
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type BrokerSend, sendOverHttp } from "../../core/brokers/transport";
import { systemClock } from "../../core/clock";
import { type Cipher, createLocalKeyProvider } from "../../core/crypto";
import type { BrokerGateway } from "../../core/gateway";
import { composeService, parseServiceSettings } from "../../core/service";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { startTestBrokerSandbox, type TestBrokerSandbox } from "../support/sandbox";
import { securitiesAccount } from "../support/tokens";

/** One call a second (plus the allowance) per app key: a slot missed costs 1.4 s. */
const JITTER_MS = 400;
const SPACING_MS = 1_000 + JITTER_MS;

let db: TestDatabase;
let broker: TestBrokerSandbox;
let gateway: BrokerGateway;
let cipher: Cipher;
/** How late the next call's connection is handed over. */
let connectionLateMs = 0;

beforeAll(async () => {
  db = await createTestDatabase();
  broker = await startTestBrokerSandbox({ clock: systemClock });
  const settings = parseServiceSettings({
    ...broker.env,
    KIS_REAL_CALLS_PER_SECOND: "1",
    BROKER_CALL_JITTER_MS: String(JITTER_MS),
  });
  const send: BrokerSend = (method, url, body, headers, timeoutMs, connected) =>
    sendOverHttp(method, url, body, headers, timeoutMs, async () => {
      if (connectionLateMs > 0) await sleep(connectionLateMs);
      await connected?.();
    });
  ({ gateway, cipher } = composeService({
    sql: db.sql,
    keys: createLocalKeyProvider({ masterKey: randomBytes(32) }),
    settings,
    send,
  }));
});
afterAll(async () => {
  await gateway?.settled();
  await broker?.stop();
  await db?.drop();
});

/** A KIS quotation through the gateway; resolves with how long it took, in ms. */
async function timedCall(accountId: number): Promise<number> {
  const started = performance.now();
  const answer = await gateway.call({
    accountId,
    method: "GET",
    target:
      "/uapi/domestic-stock/v1/quotations/inquire-price?FID_COND_MRKT_DIV_CODE=J&FID_INPUT_ISCD=005930",
    header: (name) => (name === "tr_id" ? "FHKST01010100" : undefined),
    body: undefined,
    keyId: "test",
  });
  expect(answer.status).toBe(200);
  return performance.now() - started;
}

/** An account whose token is issued and whose app key's slot is free again. */
async function readyAccount(): Promise<number> {
  const { id } = await securitiesAccount(db.sql, cipher);
  connectionLateMs = 0;
  await timedCall(id);
  await sleep(SPACING_MS + 200);
  return id;
}

it("a call whose connection comes a little over half the allowance late waits for the next slot", async () => {
  const id = await readyAccount();
  connectionLateMs = JITTER_MS * 0.75;
  // It would have gone after about 0.3 s; the next slot is 1.4 s after its first.
  expect(await timedCall(id)).toBeGreaterThan(SPACING_MS - 150);
});

it("a call whose connection comes less than half the allowance late goes at once", async () => {
  const id = await readyAccount();
  connectionLateMs = JITTER_MS * 0.25;
  expect(await timedCall(id)).toBeLessThan(SPACING_MS - 400);
});

import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toProblem } from "../../core/api/problems";
import { type BrokerSend, sendOverHttp } from "../../core/brokers";
import { createLocalKeyProvider } from "../../core/crypto";
import { composeService, parseServiceSettings } from "../../core/service";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { startTestBrokerSandbox, type TestBrokerSandbox } from "../support/sandbox";
import { offsetClock, securitiesAccount } from "../support/tokens";

let db: TestDatabase;
let broker: TestBrokerSandbox;
const clock = offsetClock();

beforeAll(async () => {
  db = await createTestDatabase();
  broker = await startTestBrokerSandbox({ clock });
});
afterAll(async () => {
  await broker?.stop();
  await db?.drop();
});

/** The real transport, with a connection that opens 200 ms late (a slow handshake). */
const slowHandshake: BrokerSend = (method, url, body, headers, timeoutMs, connected) =>
  sendOverHttp(
    method,
    url,
    body,
    headers,
    timeoutMs,
    connected &&
      (async () => {
        await sleep(200);
        await connected();
      }),
  );

describe("a pacing refusal at the wire", () => {
  it("is a 429 audited as refused, not as a failed broker call, and the broker never sees it", async () => {
    const { cipher, gateway, tokens } = composeService({
      sql: db.sql,
      keys: createLocalKeyProvider({ masterKey: randomBytes(32) }),
      settings: parseServiceSettings({ ...broker.env, BROKER_CALL_MAX_WAIT_MS: "0" }),
      clock,
      send: slowHandshake,
    });
    const account = await securitiesAccount(db.sql, cipher, {
      broker: "KIS",
      environment: "paper",
    });
    clock.advance(120_000);
    // The token first, so the only lateness is the connection's.
    await tokens.getValidToken(account.id);
    const before = broker.sandbox.stats().calls.total;
    const failure = await gateway
      .call({
        accountId: account.id,
        method: "GET",
        target:
          "/uapi/domestic-stock/v1/quotations/inquire-price?FID_COND_MRKT_DIV_CODE=J&FID_INPUT_ISCD=005930",
        header: (name) => (name === "tr_id" ? "FHKST01010100" : undefined),
        body: undefined,
        keyId: "wire-test",
      })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    const answer = toProblem(failure);
    expect(answer.problem.status).toBe(429);
    expect(answer.headers["Retry-After"]).toBeDefined();
    expect(broker.sandbox.stats().calls.total).toBe(before);
    const status = await gateway.status();
    const [row] = await db.sql<{ refused: boolean; status: number }[]>`
      SELECT refused, status FROM broker_calls WHERE account_id = ${account.id}`;
    expect(row).toEqual({ refused: true, status: 0 });
    expect(status.accounts.find((a) => a.account_id === account.id)).toMatchObject({
      calls: 1,
      failed_calls: 0,
      refused_calls: 1,
    });
  });
});

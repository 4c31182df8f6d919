import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createBrokerAccount } from "../support/accounts";
import { startTestServer, type TestServer } from "../support/server";

const PRICE =
  "uapi/domestic-stock/v1/quotations/inquire-price?FID_COND_MRKT_DIV_CODE=J&FID_INPUT_ISCD=005930";
const ORDER = "uapi/domestic-stock/v1/trading/order-cash";

let server: TestServer;

beforeAll(async () => {
  // The broker's own timeout (10 s) is longer than the caller's deadline (2.5 s): the deadline must win.
  server = await startTestServer({ requestTimeoutMs: 2_500, env: { BROKER_TIMEOUT_MS: "10000" } });
});

afterAll(async () => {
  await server?.stop();
});

async function account(): Promise<number> {
  const { id } = await createBrokerAccount(server, "KIS");
  await server.runtime.tokens.getValidToken(id);
  return id;
}

describe("the caller's deadline bounds the gateway", () => {
  test("a broker slower than the request's deadline is cut off before the deadline, not at the broker timeout", async () => {
    const id = await account();
    server.sandbox.sandbox.configure({ latencyMs: 6_000 });
    const started = performance.now();
    const answer = await server.call(`/accounts/${id}/broker/${PRICE}`, {
      headers: { tr_id: "FHKST01010100" },
    });
    const elapsed = performance.now() - started;
    server.sandbox.sandbox.configure({ latencyMs: 0 });
    expect(answer.status).toBe(504);
    expect(elapsed).toBeLessThan(2_500);
  });

  test("an order hanging past the deadline answers order_outcome_unknown in time, and a read then finds it accepted", async () => {
    const id = await account();
    server.sandbox.sandbox.configure({
      orderFaults: { [`KIS /${ORDER}`]: ["accept_then_hang"] },
    });
    const started = performance.now();
    const answer = await server.call(`/accounts/${id}/broker/${ORDER}`, {
      method: "POST",
      headers: { tr_id: "TTTC0012U", "idempotency-key": "late" },
      body: JSON.stringify({
        CANO: "50123456",
        ACNT_PRDT_CD: "01",
        PDNO: "005930",
        ORD_DVSN: "00",
        ORD_QTY: "1",
        ORD_UNPR: "70000",
      }),
    });
    expect(performance.now() - started).toBeLessThan(2_500);
    expect(answer.status).toBe(502);
    expect(((await answer.json()) as { code: string }).code).toBe("order_outcome_unknown");
    const read = await server.call(`/accounts/${id}/orders/late`);
    expect(await read.json()).toMatchObject({
      state: "accepted",
      broker_order_no: expect.any(String),
    });
  });

  test("an order left unknown by its request is resolved on the refresh job's next run", async () => {
    const id = await account();
    server.sandbox.sandbox.configure({
      orderFaults: { [`KIS /${ORDER}`]: ["accept_then_hang"] },
    });
    const answer = await server.call(`/accounts/${id}/broker/${ORDER}`, {
      method: "POST",
      headers: { tr_id: "TTTC0011U", "idempotency-key": "leftover" },
      body: JSON.stringify({
        CANO: "50123456",
        ACNT_PRDT_CD: "01",
        PDNO: "000660",
        ORD_DVSN: "00",
        ORD_QTY: "2",
        ORD_UNPR: "120000",
      }),
    });
    expect(answer.status).toBe(502);
    const [before] = await server.db.sql<{ state: string }[]>`
      SELECT state FROM order_intents WHERE account_id = ${id}`;
    expect(before?.state).toBe("unknown");
    expect(await server.runtime.gateway.reconcileLeftovers()).toBeGreaterThanOrEqual(1);
    const [after] = await server.db.sql<{ state: string; broker_order_no: string | null }[]>`
      SELECT state, broker_order_no FROM order_intents WHERE account_id = ${id}`;
    expect(after).toMatchObject({ state: "accepted", broker_order_no: expect.any(String) });
  });
});

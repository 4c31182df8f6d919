import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createBrokerAccount } from "../support/accounts";
import { startTestServer, type TestServer } from "../support/server";

// KIS real at 2 calls a second, 1 of them for orders: each lane sends 1 call
// a second, so in a burst of 3 the later calls' slots are past the 300 ms bound
// and are refused before the wire (nothing sent).
const ENV = {
  KIS_REAL_CALLS_PER_SECOND: "2",
  KIS_REAL_ORDER_CALLS_PER_SECOND: "1",
  BROKER_CALL_MAX_WAIT_MS: "300",
};
const PRICE =
  "uapi/domestic-stock/v1/quotations/inquire-price?FID_COND_MRKT_DIV_CODE=J&FID_INPUT_ISCD=005930";
const ORDER = "uapi/domestic-stock/v1/trading/order-cash";

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ env: ENV });
});

afterAll(async () => {
  await server?.stop();
});

async function kisAccount(): Promise<number> {
  const { id } = await createBrokerAccount(server, "KIS");
  // The token first, so the burst's only wait is its pacing.
  await server.runtime.tokens.getValidToken(id);
  return id;
}

async function call(id: number, path: string, init: RequestInit) {
  const response = await server.call(`/accounts/${id}/broker/${path}`, init);
  return { status: response.status, retryAfter: response.headers.get("retry-after") };
}

/** The account's totals as GET /broker/status reports them (every audit row written first). */
async function totals(id: number) {
  const response = await server.call("/broker/status");
  expect(response.status).toBe(200);
  const report = (await response.json()) as {
    accounts: {
      account_id: number;
      calls: number;
      failed_calls: number;
      refused_calls: number;
      last_error: unknown;
    }[];
    totals: { refused_calls: number };
  };
  expect(report.totals.refused_calls).toBeGreaterThanOrEqual(
    report.accounts.reduce((sum, account) => sum + account.refused_calls, 0),
  );
  return report.accounts.find((account) => account.account_id === id);
}

interface AuditRow {
  refused: boolean;
  status: number;
  broker_code: string | null;
  idempotency_key: string | null;
  order_state: string | null;
}

function auditRows(id: number) {
  return server.db.sql<AuditRow[]>`
    SELECT refused, status, broker_code, idempotency_key, order_state
    FROM broker_calls WHERE account_id = ${id} ORDER BY id`;
}

describe("a pacing refusal before the wire", () => {
  test("is a 429 audited as refused with status 0, and never counted as a failed broker call", async () => {
    const id = await kisAccount();
    const sentBefore = server.sandbox.sandbox.stats().calls.total;
    const burst = await Promise.all(
      Array.from({ length: 3 }, () =>
        call(id, PRICE, { method: "GET", headers: { tr_id: "FHKST01010100" } }),
      ),
    );
    const refused = burst.filter((answer) => answer.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]?.retryAfter).toMatch(/^[1-9]\d*$/);
    const sent = server.sandbox.sandbox.stats().calls.total - sentBefore;
    expect(sent).toBe(burst.length - refused.length);
    expect(await totals(id)).toMatchObject({
      calls: burst.length,
      failed_calls: 0,
      refused_calls: refused.length,
      last_error: null,
    });
    const rows = await auditRows(id);
    expect(rows).toHaveLength(burst.length);
    expect(rows.filter((row) => row.refused)).toEqual(
      refused.map(() => ({
        refused: true,
        status: 0,
        broker_code: null,
        idempotency_key: null,
        order_state: null,
      })),
    );
  });

  test("of an order releases its intent and audits the order as refused and released", async () => {
    const id = await kisAccount();
    const keys = ["burst-a", "burst-b", "burst-c"].map((key) => `${key}-${id}`);
    const burst = await Promise.all(
      // Different quantities: an order like one still in flight would be a 409 instead.
      keys.map((key, index) =>
        call(id, ORDER, {
          method: "POST",
          headers: { tr_id: "TTTC0012U", "idempotency-key": key },
          body: JSON.stringify({
            CANO: "50123456",
            ACNT_PRDT_CD: "01",
            PDNO: "005930",
            ORD_DVSN: "00",
            ORD_QTY: String(index + 1),
            ORD_UNPR: "70000",
          }),
        }),
      ),
    );
    const refusedKeys = keys.filter((_, index) => burst[index]?.status === 429);
    expect(refusedKeys.length).toBeGreaterThan(0);
    expect(await totals(id)).toMatchObject({
      calls: keys.length,
      failed_calls: 0,
      refused_calls: refusedKeys.length,
    });
    // A refused order's key is free again: no intent is left behind it.
    const intents = await server.db.sql<{ idempotency_key: string }[]>`
      SELECT idempotency_key FROM order_intents WHERE account_id = ${id}`;
    expect(intents.map((intent) => intent.idempotency_key).sort()).toEqual(
      keys.filter((key) => !refusedKeys.includes(key)).sort(),
    );
    const rows = await auditRows(id);
    expect(rows.filter((row) => row.refused)).toEqual(
      expect.arrayContaining(
        refusedKeys.map((key) => ({
          refused: true,
          status: 0,
          broker_code: null,
          idempotency_key: key,
          order_state: "released",
        })),
      ),
    );
    expect(rows.filter((row) => row.refused)).toHaveLength(refusedKeys.length);
  });
});

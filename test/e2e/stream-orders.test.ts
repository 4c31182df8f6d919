import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { createBrokerAccount } from "../support/accounts";
import { startTestHub, type TestHub } from "../support/hub";
import { noticesLive } from "../support/notices";
import { startTestServer, type TestServer } from "../support/server";
import { connectStreamClient, type StreamClient } from "../support/stream-client";

let server: TestServer;
let hub: TestHub;
const clients: StreamClient[] = [];

/** Each broker's order and day-orders paths, an order body, and where its notices carry the order number. */
const BROKERS = {
  KIS: {
    order: "/uapi/domestic-stock/v1/trading/order-cash",
    dayOrders: "/uapi/domestic-stock/v1/trading/inquire-daily-ccld",
    headers: { tr_id: "TTTC0012U" },
    body: {
      CANO: "50123456",
      ACNT_PRDT_CD: "01",
      PDNO: "005930",
      ORD_DVSN: "00",
      ORD_QTY: "2",
      ORD_UNPR: "70000",
    },
    orderNumber: (fields: Record<string, string>) => fields.ODER_NO,
  },
  KIWOOM: {
    order: "/api/dostk/ordr",
    dayOrders: "/api/dostk/acnt",
    headers: { "api-id": "kt10000" },
    body: { dmst_stex_tp: "KRX", stk_cd: "005930", ord_qty: "2", ord_uv: "70000", trde_tp: "0" },
    orderNumber: (fields: Record<string, string>) => fields.order_number,
  },
} as const;

/** A KIS account gets an HTS id of its own: its notices are registered with it. */
const createAccount = (broker: "KIS" | "KIWOOM") =>
  createBrokerAccount(server, broker, {
    config: broker === "KIS" ? { hts_id: `hts${randomBytes(3).toString("hex")}` } : {},
  });

/** The id of the account's latest day-orders call, once there is one (waits up to 5 s). */
async function lastDayOrdersCall(accountId: number, path: string): Promise<number> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    await server.runtime.gateway.settled();
    const [row] = await server.db.sql<{ id: string | null }[]>`
      SELECT max(id) AS id FROM broker_calls WHERE account_id = ${accountId} AND path = ${path}`;
    if (row?.id) return Number(row.id);
    if (Date.now() > deadline) throw new Error("no day-orders call in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const isNotice = (m: Record<string, unknown>) => m.kind === "notice" && "fields" in m;

/** A client of the hub subscribed to the account's notices, once the broker delivers them. */
async function noticeClient(
  broker: "KIS" | "KIWOOM",
  account: { id: number; appKey: string; accountNumber: string },
) {
  const c = await connectStreamClient(hub.url, hub.readerKey);
  clients.push(c);
  c.send({ op: "subscribe", account_id: account.id, kind: "notice" });
  await c.next((m) => m.type === "session" && m.state === "up");
  // The registration is in place once a hand-made notice (of no intent's order) gets through.
  await noticesLive(server, c, broker, account, "0000000000");
  return c;
}

beforeAll(async () => {
  server = await startTestServer({ env: { KIWOOM_MIN_ISSUE_INTERVAL_MS: "1000" } });
  server.sandbox.sandbox.streams.configure({ pingIntervalMs: 150 });
  hub = await startTestHub(server);
});

afterEach(() => {
  server.sandbox.sandbox.configure({ answerNext: [], orderFaults: {} });
});

afterAll(async () => {
  for (const c of clients) c.close();
  await hub?.stop();
  await server?.stop();
});

describe("execution notices resolve the gateway's unknown orders", () => {
  for (const broker of ["KIS", "KIWOOM"] as const) {
    test(`a ${broker} order whose answer was lost is accepted with the number its notice carries, while the day's orders cannot be read`, async () => {
      const desk = BROKERS[broker];
      const account = await createAccount(broker);
      const c = await noticeClient(broker, account);
      // The hub's own catch-up read of the day orders (new notices) comes first; it is not reconciliation.
      const catchUp = await lastDayOrdersCall(account.id, desk.dayOrders);
      server.sandbox.sandbox.configure({
        orderFaults: { [`${broker} ${desk.order}`]: ["accept_then_reset"] },
        // Reconciliation's own queries fail throughout: only the notice can resolve the order.
        answerNext: Array.from({ length: 20 }, () => ({
          broker,
          path: desk.dayOrders,
          status: 500,
          body: "Internal Server Error",
        })),
      });
      const key = `notice-${broker}`;
      const placed = server.call(`/accounts/${account.id}/broker${desk.order}`, {
        method: "POST",
        headers: { ...desk.headers, "idempotency-key": key },
        body: JSON.stringify(desk.body),
      });
      const notice = await c.next(
        (m) => isNotice(m) && desk.orderNumber(m.fields as Record<string, string>) !== "0000000000",
      );
      const orderNo = desk.orderNumber(notice.fields as Record<string, string>);
      expect(orderNo).toMatch(/^\d{7,10}$/);
      await placed;
      await server.runtime.gateway.settled();
      const read = await server.call(`/accounts/${account.id}/orders/${key}`);
      expect(read.status).toBe(200);
      expect(await read.json()).toMatchObject({
        key,
        state: "accepted",
        broker_order_no: orderNo,
      });
      const queries = await server.db.sql<{ status: number }[]>`
        SELECT status FROM broker_calls
        WHERE account_id = ${account.id} AND path = ${desk.dayOrders} AND id > ${catchUp}`;
      // No read of the day's orders succeeded: the number came from the notice. (None at all
      // when the notice bound the intent between its answer's loss and reconciliation's first read.)
      expect(queries.every((row) => row.status === 500)).toBe(true);
    });
  }
});

import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createBrokerAccount } from "../support/accounts";
import { startTestServer, type TestServer } from "../support/server";

const ORDER = "uapi/domestic-stock/v1/trading/order-cash";
const ORDER_KEY = `KIS /${ORDER}`;
const KIWOOM_ORDER = "api/dostk/ordr";

let server: TestServer;

function orderBody(symbol = "005930", quantity = "1") {
  return {
    CANO: "50123456",
    ACNT_PRDT_CD: "01",
    PDNO: symbol,
    ORD_DVSN: "00",
    ORD_QTY: quantity,
    ORD_UNPR: "70000",
  };
}

const create = (broker: "KIS" | "KIWOOM", environment: "real" | "paper" = "real") =>
  createBrokerAccount(server, broker, { environment });

async function send(
  id: number,
  path: string,
  init: { headers?: Record<string, string>; body?: unknown; method?: string },
) {
  const response = await server.call(`/accounts/${id}/${path}`, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers: init.headers ?? {},
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: JSON.parse(text) };
}

function order(
  id: number,
  key: string | undefined,
  body: unknown = orderBody(),
  trId = "TTTC0012U",
) {
  return send(id, `broker/${ORDER}`, {
    headers: { tr_id: trId, ...(key === undefined ? {} : { "idempotency-key": key }) },
    body,
  });
}

function booked(label: string): number {
  const { byAccount } = server.sandbox.sandbox.stats().orders;
  return Object.entries(byAccount)
    .filter(([account]) => account.includes(label))
    .reduce((sum, [, count]) => sum + count, 0);
}

function faults(path: string, kinds: string[]) {
  server.sandbox.sandbox.configure({ orderFaults: { [path]: kinds as never } });
}

beforeAll(async () => {
  server = await startTestServer({
    // The inline reconciliation gives up before the window ends (4 s > 3.5 s deadline).
    requestTimeoutMs: 3_500,
    env: { KIWOOM_MIN_ISSUE_INTERVAL_MS: "1000", ORDER_RECONCILE_WINDOW_MS: "4000" },
  });
});

afterAll(async () => {
  await server?.stop();
});

describe("orders through the gateway, over HTTP against the sandbox", () => {
  test("an order without an Idempotency-Key is refused with 400 and nothing is booked", async () => {
    const { id, appKey } = await create("KIS");
    const answer = await order(id, undefined);
    expect(answer.status).toBe(400);
    expect(answer.body.errors[0].field).toBe("Idempotency-Key");
    const spaced = await order(id, "has a space");
    expect(spaced.status).toBe(400);
    expect(booked(appKey)).toBe(0);
  });

  test("the same key and request is answered from the store with idempotent-replayed and books once", async () => {
    const { id, appKey } = await create("KIS");
    const first = await order(id, "k-1");
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ rt_cd: "0", output: { ODNO: expect.any(String) } });
    const again = await order(id, "k-1");
    expect(again.status).toBe(200);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body).toEqual(first.body);
    expect(booked(appKey)).toBe(1);
    const read = await send(id, "orders/k-1", {});
    expect(read.body).toMatchObject({
      key: "k-1",
      state: "accepted",
      broker_order_no: first.body.output.ODNO,
      answer: { status: 200 },
    });
  });

  test("an order on the same terms right after another's answer is placed, not held as reconciling", async () => {
    const { id, appKey } = await create("KIS");
    // The first's answer is recorded after it leaves: the next must not find it still in flight.
    for (let n = 0; n < 10; n += 1) {
      const answer = await order(id, `twin-${n}`);
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    }
    expect(booked(appKey)).toBe(10);
  });

  test("the same key with a different body is refused with 422 idempotency_key_reused", async () => {
    const { id, appKey } = await create("KIS");
    expect((await order(id, "k-2")).status).toBe(200);
    const other = await order(id, "k-2", orderBody("000660"));
    expect(other.status).toBe(422);
    expect(other.body.code).toBe("idempotency_key_reused");
    expect(booked(appKey)).toBe(1);
  });

  for (const kind of ["accept_then_reset", "error_after_book", "accept_then_hang"]) {
    test(`an order booked and then lost (${kind}) is reconciled to accepted with the broker's number, and a retry books nothing`, async () => {
      const { id, appKey } = await create("KIS");
      faults(ORDER_KEY, [kind]);
      const first = await order(id, `lost-${kind}`);
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ key: `lost-${kind}`, state: "accepted" });
      expect(first.body.broker_order_no).toMatch(/^\d{10}$/);
      const retry = await order(id, `lost-${kind}`);
      expect(retry.status).toBe(200);
      expect(retry.headers.get("idempotent-replayed")).toBe("true");
      expect(retry.body.broker_order_no).toBe(first.body.broker_order_no);
      expect(booked(appKey)).toBe(1);
    });
  }

  test("a KIS credit order lost after booking is reconciled from inquire-daily-ccld to accepted", async () => {
    const { id, appKey } = await create("KIS");
    const credit = "uapi/domestic-stock/v1/trading/order-credit";
    faults(`KIS /${credit}`, ["accept_then_reset"]);
    const body = { ...orderBody("035720", "4"), CRDT_TYPE: "21", LOAN_DT: "20261204" };
    const placed = () =>
      send(id, `broker/${credit}`, {
        headers: { tr_id: "TTTC0052U", "idempotency-key": "credit-1" },
        body,
      });
    const first = await placed();
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ key: "credit-1", state: "accepted" });
    expect(first.body.broker_order_no).toMatch(/^\d{10}$/);
    const retry = await placed();
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect(retry.body.broker_order_no).toBe(first.body.broker_order_no);
    expect(booked(appKey)).toBe(1);
  });

  test("while the day orders cannot be read, the lost order stays unknown and the broker is asked less and less often", async () => {
    const { id } = await create("KIS");
    faults(ORDER_KEY, ["accept_then_reset"]);
    const dayOrders = "/uapi/domestic-stock/v1/trading/inquire-daily-ccld";
    const queued = 30;
    server.sandbox.sandbox.configure({
      answerNext: Array.from({ length: queued }, () => ({
        broker: "KIS",
        path: dayOrders,
        status: 500,
        body: { rt_cd: "1", msg_cd: "EGW00500", msg1: "unavailable" },
      })),
    });
    const left = () =>
      server.sandbox.sandbox.config().answerNext.filter((answer) => answer.path === dayOrders)
        .length;
    try {
      const lost = await order(id, "unread");
      expect(lost.status).toBe(502);
      expect(lost.body.code).toBe("order_outcome_unknown");
      // The window (4 s here) is over: a retry's passes are no longer spaced by it.
      await server.db.sql`
        UPDATE order_intents SET sent_at = sent_at - interval '10 seconds', reconcile_checks = 0
        WHERE account_id = ${id} AND idempotency_key = 'unread'`;
      const before = left();
      const retry = await order(id, "unread");
      expect(retry.status).toBe(502);
      expect(retry.body.code).toBe("order_outcome_unknown");
      // Within the 3.5 s deadline: passes at 0, 0.25, 0.75 and 1.75 s (every 200 ms before: 12).
      const asked = before - left();
      expect(asked).toBeGreaterThanOrEqual(3);
      expect(asked).toBeLessThanOrEqual(5);
      const read = await send(id, "orders/unread", {});
      expect(read.body.state).toBe("unknown");
    } finally {
      server.sandbox.sandbox.configure({ answerNext: [] });
    }
  });

  test("a rejection before booking is stored as rejected and replayed, never sent twice", async () => {
    const { id, appKey } = await create("KIS");
    faults(ORDER_KEY, ["reject_before_book"]);
    const first = await order(id, "rej");
    expect(first.body).toMatchObject({ rt_cd: "1", msg_cd: "APBK0919" });
    const again = await order(id, "rej");
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body).toEqual(first.body);
    expect(booked(appKey)).toBe(0);
    expect((await send(id, "orders/rej", {})).body.state).toBe("rejected");
  });

  test("EGW00301 is an unknown outcome: no Retry-After, a Location, then not_placed, and the same key sends it once more", async () => {
    const { id, appKey } = await create("KIS");
    // The token first: the queued code answers the next KIS request, which must be the order.
    await server.runtime.tokens.getValidToken(id);
    server.sandbox.sandbox.configure({ failNextCodes: ["EGW00301"] });
    const lost = await order(id, "unk");
    expect(lost.status).toBe(502);
    expect(lost.body.code).toBe("order_outcome_unknown");
    expect(lost.body.detail).toContain("Do not send it again under a new key");
    expect(lost.headers.get("retry-after")).toBeNull();
    expect(lost.headers.get("location")).toBe(`/accounts/${id}/orders/unk`);

    // Another order on the same symbol and side waits for it.
    const blocked = await order(id, "other");
    expect(blocked.status).toBe(409);
    expect(blocked.body.code).toBe("order_reconciling");
    // Another symbol does not.
    expect((await order(id, "elsewhere", orderBody("000660"))).status).toBe(200);

    await new Promise((resolve) => setTimeout(resolve, 4_100));
    const read = await send(id, "orders/unk", {});
    expect(read.body).toMatchObject({ key: "unk", state: "not_placed", broker_order_no: null });
    const resent = await order(id, "unk");
    expect(resent.status).toBe(200);
    expect(resent.body).toMatchObject({ rt_cd: "0" });
    expect(booked(appKey)).toBe(2);
  });

  test("a Kiwoom order lost after booking is reconciled from kt00007 to accepted", async () => {
    const { id, appKey } = await create("KIWOOM");
    faults(`KIWOOM /${KIWOOM_ORDER}`, ["accept_then_reset"]);
    const body = {
      dmst_stex_tp: "KRX",
      stk_cd: "005930",
      ord_qty: "3",
      ord_uv: "70000",
      trde_tp: "0",
    };
    const first = await send(id, `broker/${KIWOOM_ORDER}`, {
      headers: { "api-id": "kt10000", "idempotency-key": "kw-1" },
      body,
    });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      state: "accepted",
      broker_order_no: expect.stringMatching(/^\d{7}$/),
    });
    expect(booked(appKey)).toBe(1);
  });

  test("the audit rows carry the key and the state, and /broker/status counts unknown and ambiguous orders", async () => {
    const { id } = await create("KIS");
    faults(ORDER_KEY, ["accept_then_reset"]);
    await order(id, "audited");
    await server.runtime.gateway.settled();
    const rows = await server.db.sql<
      { path: string; idempotency_key: string; order_state: string }[]
    >`
      SELECT path, idempotency_key, order_state FROM broker_calls WHERE account_id = ${id} ORDER BY id`;
    expect(rows).toEqual([
      { path: `/${ORDER}`, idempotency_key: "audited", order_state: "unknown" },
      {
        path: "/uapi/domestic-stock/v1/trading/inquire-daily-ccld",
        idempotency_key: "audited",
        order_state: "accepted",
      },
    ]);
    const report = (await (await server.call("/broker/status")).json()) as { orders: unknown };
    expect(report.orders).toEqual({
      unknown: expect.any(Number),
      ambiguous: expect.any(Number),
      oldest_unknown_seconds: expect.toSatisfy((v: unknown) => v === null || typeof v === "number"),
    });
  });

  test("Kiwoom's bare HTTP 401 is a token rejection: re-issued once and the call replayed", async () => {
    const { id, appKey } = await create("KIWOOM");
    await server.runtime.tokens.getValidToken(id);
    // Kiwoom's issue pace here is 1 s (sandbox and settings): let it pass.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const issued = server.sandbox.sandbox.stats().issued.byAppKey[appKey] ?? 0;
    server.sandbox.sandbox.configure({ failNextCodes: ["401"] });
    const answer = await send(id, "broker/api/dostk/stkinfo", {
      headers: { "api-id": "ka10001" },
      body: { stk_cd: "005930" },
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ return_code: 0 });
    expect(server.sandbox.sandbox.stats().issued.byAppKey[appKey]).toBe(issued + 1);
    await server.runtime.gateway.settled();
    const audit = await server.db.sql<{ status: number; replayed: boolean }[]>`
      SELECT status, replayed FROM broker_calls WHERE account_id = ${id} ORDER BY id`;
    expect(audit).toEqual([
      { status: 401, replayed: false },
      { status: 200, replayed: true },
    ]);
  });

  test("two of the broker's orders matching a lost one make it ambiguous, answered as such and counted, never guessed", async () => {
    const { id, appKey } = await create("KIS");
    const { accessToken } = await server.runtime.tokens.getValidToken(id);
    faults(ORDER_KEY, ["accept_then_hang"]);
    const lost = order(id, "twin", orderBody("035420", "7"));
    // Another client places the same order on the account while ours hangs.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const direct = await fetch(`${server.sandbox.sandbox.baseUrls.KIS.real}/${ORDER}`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${accessToken}`,
        appkey: appKey,
        appsecret: "x",
        tr_id: "TTTC0012U",
      },
      body: JSON.stringify(orderBody("035420", "7")),
    });
    expect(((await direct.json()) as { rt_cd: string }).rt_cd).toBe("0");
    const answer = await lost;
    expect(answer.status).toBe(409);
    expect(answer.body.code).toBe("order_ambiguous");
    expect(answer.headers.get("location")).toBe(`/accounts/${id}/orders/twin`);
    expect((await send(id, "orders/twin", {})).body).toMatchObject({
      state: "ambiguous",
      broker_order_no: null,
    });
    const report = (await (await server.call("/broker/status")).json()) as {
      orders: { ambiguous: number };
    };
    expect(report.orders.ambiguous).toBeGreaterThanOrEqual(1);
  });
});

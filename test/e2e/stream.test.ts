import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import WebSocket from "ws";
import { createBrokerAccount } from "../support/accounts";
import { startTestHub, type TestHub } from "../support/hub";
import { isOrderNotice, noticesLive, orderEvent, until } from "../support/notices";
import { startTestServer, type TestServer } from "../support/server";
import { connectStreamClient, type StreamClient } from "../support/stream-client";

let server: TestServer;
let hub: TestHub;
const clients: StreamClient[] = [];

const createAccount = (broker: "KIS" | "KIWOOM", config: Record<string, unknown> = {}) =>
  createBrokerAccount(server, broker, { config });

async function client(key = hub.readerKey) {
  const connected = await connectStreamClient(hub.url, key);
  clients.push(connected);
  return connected;
}

const fill = (
  broker: "KIS" | "KIWOOM",
  account: { appKey: string; accountNumber: string },
  orderNumber: string,
  [filledQuantity, orderQuantity] = [3, 3],
) =>
  server.sandbox.sandbox.streams.notify(
    orderEvent(broker, account, { orderNumber, filledQuantity, orderQuantity, price: 70_100 }),
  );

const isEvent = (kind: string, symbol?: string) => (m: Record<string, unknown>) =>
  m.kind === kind && "fields" in m && (symbol === undefined || m.symbol === symbol);

beforeAll(async () => {
  // Kiwoom's floor (1 s) instead of a minute, so a re-login's fresh token comes within the test.
  server = await startTestServer({ env: { KIWOOM_MIN_ISSUE_INTERVAL_MS: "1000" } });
  server.sandbox.sandbox.streams.configure({ pingIntervalMs: 150, ticksPerSecond: 200 });
  hub = await startTestHub(server);
});

afterAll(async () => {
  for (const c of clients) c.close();
  await hub?.stop();
  await server?.stop();
});

beforeEach(() => {
  server.sandbox.sandbox.streams.configure({ extraFields: 0 });
});

describe("clients of the hub", () => {
  test("a connection without an API key is refused with 401", async () => {
    await expect(connectStreamClient(hub.url, undefined)).rejects.toThrow(/401/);
  });

  test("a key without stream:read is refused with 403 naming the scope", async () => {
    await expect(connectStreamClient(hub.url, hub.otherKey)).rejects.toThrow(/403.*stream:read/);
  });

  test("a subscription without a symbol gets an error naming the field", async () => {
    const c = await client();
    c.send({ op: "subscribe", account_id: 1, kind: "trade" });
    const error = await c.next((m) => m.type === "error");
    expect(error).toMatchObject({
      code: "bad_message",
      message: expect.stringContaining("symbol"),
    });
  });

  test("an account whose hts_id is not an HTS id is refused with 400 naming the field", async () => {
    const response = await server.call("/accounts", {
      method: "POST",
      body: JSON.stringify({
        name: "bad hts id",
        account_type: "SECURITIES_STOCK",
        exchange: "KIS",
        api_key: "PSbadhtsid000001",
        api_secret: "secret-bad-hts-id",
        securities_config: {
          account_number: "50123456",
          product_code: "01",
          market_type: "DOMESTIC_STOCK",
          hts_id: "has spaces in it",
        },
      }),
    });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain("securities_config.hts_id");
  });

  test("a KIS account without hts_id cannot subscribe to notices, and is told why", async () => {
    const account = await createAccount("KIS");
    const c = await client();
    c.send({ op: "subscribe", account_id: account.id, kind: "notice" });
    expect(await c.next((m) => m.type === "error")).toMatchObject({ code: "hts_id_missing" });
  });
});

describe("KIS through the hub", () => {
  test("a client receives KIS trades of its symbol, named by position, with the raw frame", async () => {
    const account = await createAccount("KIS", { hts_id: "htsuser1" });
    const c = await client();
    c.send({ op: "subscribe", account_id: account.id, kind: "trade", symbol: "005930" });
    const event = await c.next(isEvent("trade", "005930"));
    expect(event).toMatchObject({
      account_id: account.id,
      broker: "KIS",
      kind: "trade",
      symbol: "005930",
    });
    expect((event.fields as Record<string, string>).MKSC_SHRN_ISCD).toBe("005930");
    expect(event.raw).toMatch(/^0\|H0STCNT0\|001\|005930\^/);
  });

  test("a KIS fill arrives decrypted, stored with a sequence", async () => {
    const account = await createAccount("KIS", { hts_id: "htsuser2" });
    const c = await client();
    c.send({ op: "subscribe", account_id: account.id, kind: "notice" });
    await noticesLive(server, c, "KIS", account);
    expect(fill("KIS", account, "0000011111")).toBe(true);
    const notice = await c.next(isOrderNotice("0000011111"));
    expect(notice).toMatchObject({
      account_id: account.id,
      broker: "KIS",
      symbol: "005930",
      seq: expect.any(Number),
    });
    expect(notice.fields).toMatchObject({
      ODER_NO: "0000011111",
      CNTG_QTY: "3",
      CNTG_UNPR: "70100",
      CUST_ID: "htsuser2",
    });
  });

  test("an order placed through the gateway comes back to the client as its two notices, accepted then filled", async () => {
    const account = await createAccount("KIS", { hts_id: "htsorder" });
    const c = await client();
    c.send({ op: "subscribe", account_id: account.id, kind: "notice" });
    await c.next((m) => m.type === "session" && m.state === "up");
    await noticesLive(server, c, "KIS", account);
    const placed = await server.call(
      `/accounts/${account.id}/broker/uapi/domestic-stock/v1/trading/order-cash`,
      {
        method: "POST",
        headers: { tr_id: "TTTC0012U", "idempotency-key": `hub-${account.id}` },
        body: JSON.stringify({
          CANO: "50123456",
          ACNT_PRDT_CD: "01",
          PDNO: "005930",
          ORD_DVSN: "00",
          ORD_QTY: "2",
          ORD_UNPR: "70000",
        }),
      },
    );
    expect(placed.status).toBe(200);
    const orderNo = (await placed.json()) as {
      broker_order_no?: string;
      output?: { ODNO?: string };
    };
    const number = orderNo.broker_order_no ?? orderNo.output?.ODNO;
    await until(
      () =>
        c.messages.filter(
          (m) => isEvent("notice")(m) && (m.fields as Record<string, string>).ODER_NO === number,
        ).length === 2,
    );
    const notices = c.messages.filter(
      (m) => isEvent("notice")(m) && (m.fields as Record<string, string>).ODER_NO === number,
    );
    expect(notices.map((m) => (m.fields as Record<string, string>).CNTG_YN)).toEqual(["1", "2"]);
    expect(notices[1]?.fields).toMatchObject({ CNTG_QTY: "2", CNTG_UNPR: "70000" });
  });

  test("extra fields the broker adds are kept by position and the known ones still read", async () => {
    const account = await createAccount("KIS", { hts_id: "htsuser3" });
    server.sandbox.sandbox.streams.configure({ extraFields: 2 });
    const c = await client();
    c.send({ op: "subscribe", account_id: account.id, kind: "trade", symbol: "000660" });
    const event = await c.next(isEvent("trade", "000660"));
    expect(event.fields).toMatchObject({
      MKSC_SHRN_ISCD: "000660",
      VI_STND_PRC: "0",
      _46: "X0",
      _47: "X1",
    });
  });

  test("the 41st market-data registration is refused while a notice holds its slot, naming the use", async () => {
    const account = await createAccount("KIS", { hts_id: "htsuser4" });
    const c = await client();
    c.send({ op: "subscribe", account_id: account.id, kind: "notice" });
    await c.next((m) => m.type === "subscribed" && m.kind === "notice");
    for (let i = 0; i < 40; i += 1) {
      c.send({
        op: "subscribe",
        account_id: account.id,
        kind: "trade",
        symbol: String(100000 + i),
      });
    }
    await until(
      () => c.messages.filter((m) => m.type === "subscribed" && m.kind === "trade").length === 40,
    );
    c.send({ op: "subscribe", account_id: account.id, kind: "trade", symbol: "200000" });
    const error = await c.next((m) => m.type === "error");
    expect(error).toMatchObject({ code: "registration_cap" });
    expect(error.message).toContain("41 of 41 registrations (40 market data, 1 notices)");
    expect(server.sandbox.sandbox.streams.stats().capRefusals).toBe(0);
  });

  test("a second client of one symbol shares the registration, which stays until the last leaves", async () => {
    const account = await createAccount("KIS", { hts_id: "htsuser5" });
    const first = await client();
    const second = await client();
    first.send({ op: "subscribe", account_id: account.id, kind: "trade", symbol: "035720" });
    second.send({ op: "subscribe", account_id: account.id, kind: "trade", symbol: "035720" });
    await first.next(isEvent("trade", "035720"));
    await second.next(isEvent("trade", "035720"));
    const before = server.sandbox.sandbox.streams.stats().registrations;
    first.send({ op: "unsubscribe", account_id: account.id, kind: "trade", symbol: "035720" });
    await first.next((m) => m.type === "unsubscribed");
    const count = second.messages.length;
    await until(() => second.messages.length > count + 2);
    expect(server.sandbox.sandbox.streams.stats().registrations).toBe(before);
  });

  test("OPSP8996: with another session on the app key the hub backs off and counts it, without a loop", async () => {
    const account = await createAccount("KIS", { hts_id: "htsuser6" });
    // Someone else (an old trading server) holds the app key's session.
    const approval = await server.runtime.tokens.getApprovalKey(account.id);
    const squatter = new WebSocket(server.sandbox.sandbox.wsUrls.KIS.real);
    await new Promise((resolve) => squatter.once("open", resolve));
    squatter.send(
      JSON.stringify({
        header: {
          approval_key: approval.approvalKey,
          custtype: "P",
          tr_type: "1",
          "content-type": "utf-8",
        },
        body: { input: { tr_id: "H0STCNT0", tr_key: "005380" } },
      }),
    );
    await new Promise((resolve) => squatter.once("message", resolve));
    const conflictsBefore = hub.hub.stats().conflicts;
    const c = await client();
    c.send({ op: "subscribe", account_id: account.id, kind: "trade", symbol: "005380" });
    await c.next((m) => m.type === "session" && m.state === "kicked");
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(hub.hub.stats().conflicts - conflictsBefore).toBe(1);
    squatter.close();
    // After the backoff (400 ms) the hub gets the key and the trades come.
    await c.next(isEvent("trade", "005380"), 5_000);
  });
});

describe("Kiwoom through the hub", () => {
  test("a client receives Kiwoom trades and its fills (902: what remains of the order), though the token never left the service", async () => {
    const account = await createAccount("KIWOOM");
    const c = await client();
    c.send({ op: "subscribe", account_id: account.id, kind: "trade", symbol: "005930" });
    c.send({ op: "subscribe", account_id: account.id, kind: "notice" });
    const trade = await c.next(isEvent("trade", "005930"));
    expect(trade).toMatchObject({ broker: "KIWOOM", account_id: account.id });
    expect((trade.fields as Record<string, string>).price).toMatch(/^\+\d+$/);
    await noticesLive(server, c, "KIWOOM", account);
    expect(fill("KIWOOM", account, "0000022222")).toBe(true);
    const notice = await c.next(isOrderNotice("0000022222"));
    expect(notice).toMatchObject({
      account_id: account.id,
      broker: "KIWOOM",
      symbol: "005930",
      seq: expect.any(Number),
    });
    expect(notice.fields).toMatchObject({
      order_number: "0000022222",
      fill_quantity: "3",
      fill_price: "70100",
    });
    expect(fill("KIWOOM", account, "0000033333", [2, 5])).toBe(true);
    expect(fill("KIWOOM", account, "0000033333", [3, 5])).toBe(true);
    await until(() => c.messages.filter(isOrderNotice("0000033333")).length === 2);
    const parts = c.messages.filter(isOrderNotice("0000033333"));
    expect(parts.map((m) => m.fill)).toEqual([
      { source: "notice", order_no: "33333", quantity: 2, filled_total: 2 },
      { source: "notice", order_no: "33333", quantity: 3, filled_total: 5 },
    ]);
    expect(parts.map((m) => m.fields)).toEqual([
      expect.objectContaining({ fill_quantity: "2", unfilled_quantity: "3" }),
      expect.objectContaining({ fill_quantity: "3", unfilled_quantity: "0" }),
    ]);
    expect(JSON.stringify(c.messages)).not.toContain("kw-");
  });

  test("the service's token used from another address draws 8010 at LOGIN", async () => {
    const account = await createAccount("KIWOOM");
    const token = await server.runtime.tokens.getValidToken(account.id);
    const socket = new WebSocket(server.sandbox.sandbox.wsUrls.KIWOOM.real, {
      localAddress: "127.0.0.2",
    });
    await new Promise((resolve) => socket.once("open", resolve));
    socket.send(JSON.stringify({ trnm: "LOGIN", token: token.accessToken }));
    const answer = JSON.parse(
      String(await new Promise((resolve) => socket.once("message", resolve))),
    );
    expect(answer).toMatchObject({ trnm: "LOGIN", return_msg: expect.stringContaining("8010") });
    socket.close();
  });

  test("R10001: a second login kicks the hub's session, which backs off once and comes back", async () => {
    const account = await createAccount("KIWOOM");
    const c = await client();
    c.send({ op: "subscribe", account_id: account.id, kind: "trade", symbol: "051910" });
    await c.next(isEvent("trade", "051910"));
    const conflictsBefore = hub.hub.stats().conflicts;
    const token = await server.runtime.tokens.getValidToken(account.id);
    const intruder = new WebSocket(server.sandbox.sandbox.wsUrls.KIWOOM.real);
    await new Promise((resolve) => intruder.once("open", resolve));
    intruder.send(JSON.stringify({ trnm: "LOGIN", token: token.accessToken }));
    await c.next((m) => m.type === "session" && m.state === "kicked");
    intruder.close();
    const seen = c.messages.length;
    await c.next((m) => c.messages.indexOf(m) >= seen && isEvent("trade", "051910")(m), 5_000);
    expect(hub.hub.stats().conflicts - conflictsBefore).toBe(1);
  });

  test("after its token is revoked the session logs in again with a fresh one (8005)", async () => {
    const account = await createAccount("KIWOOM");
    const c = await client();
    c.send({ op: "subscribe", account_id: account.id, kind: "trade", symbol: "006400" });
    await c.next(isEvent("trade", "006400"));
    const old = await server.runtime.tokens.getValidToken(account.id);
    server.sandbox.sandbox.revokeAll({ broker: "KIWOOM", appKey: account.appKey });
    server.sandbox.sandbox.streams.restart();
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const seen = c.messages.length;
    await c.next((m) => c.messages.indexOf(m) >= seen && isEvent("trade", "006400")(m), 8_000);
    expect((await server.runtime.tokens.getValidToken(account.id)).accessToken).not.toBe(
      old.accessToken,
    );
  });
});

describe("faults", () => {
  test("after a silent drop the hub notices the silence, reconnects and re-registers", async () => {
    const account = await createAccount("KIS", { hts_id: "htsuser7" });
    const c = await client();
    c.send({ op: "subscribe", account_id: account.id, kind: "trade", symbol: "068270" });
    await c.next(isEvent("trade", "068270"));
    const reconnects = hub.hub.stats().reconnects;
    server.sandbox.sandbox.streams.drop();
    const seen = c.messages.length;
    await c.next((m) => c.messages.indexOf(m) >= seen && isEvent("trade", "068270")(m), 5_000);
    expect(hub.hub.stats().reconnects).toBeGreaterThan(reconnects);
  });

  test("a notice stored while a client was away is resumed with since, none missed or repeated", async () => {
    const account = await createAccount("KIS", { hts_id: "htsuser8" });
    const watcher = await client();
    watcher.send({ op: "subscribe", account_id: account.id, kind: "notice" });
    await noticesLive(server, watcher, "KIS", account);
    expect(fill("KIS", account, "0000000001")).toBe(true);
    const first = await watcher.next(isOrderNotice("0000000001"));
    const away = await client();
    away.send({ op: "subscribe", account_id: account.id, kind: "notice" });
    await away.next(isEvent("notice"), 200).catch(() => undefined);
    away.close();
    fill("KIS", account, "0000000002");
    fill("KIS", account, "0000000003");
    await until(() => watcher.messages.filter(isOrderNotice("0000000003")).length === 1);
    const back = await client();
    back.send({ op: "subscribe", account_id: account.id, kind: "notice", since: first.seq });
    await until(() => back.messages.filter(isEvent("notice")).length === 2);
    // Nothing else was stored after the first: no catch-up found anything missing.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const orders = back.messages
      .filter(isEvent("notice"))
      .map((m) => (m.fields as Record<string, string>).ODER_NO);
    expect(orders).toEqual(["0000000002", "0000000003"]);
  });

  test("after a broker restart the session comes back and market data resumes", async () => {
    const account = await createAccount("KIS", { hts_id: "htsuser9" });
    const c = await client();
    c.send({ op: "subscribe", account_id: account.id, kind: "trade", symbol: "207940" });
    await c.next(isEvent("trade", "207940"));
    server.sandbox.sandbox.streams.restart();
    const seen = c.messages.length;
    await c.next((m) => c.messages.indexOf(m) >= seen && isEvent("trade", "207940")(m), 8_000);
  });
});

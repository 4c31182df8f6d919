import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createBrokerAccount, type TestBrokerAccount } from "../support/accounts";
import { startTestHub, type TestHub } from "../support/hub";
import { noticesLive, orderEvent, until } from "../support/notices";
import { startTestServer, type TestServer } from "../support/server";
import { connectStreamClient, type StreamClient } from "../support/stream-client";

/**
 * Fills the hub did not hear (docs/api.md): the sandbox, like a broker,
 * keeps every fill in its day orders but sends a notice only to a live
 * session; after an outage the hub catches up from the day orders, and
 * each order's shares are told once, live or caught up.
 */
let server: TestServer;
let hub: TestHub;
const hubs: TestHub[] = [];
const clients: StreamClient[] = [];

interface Fill {
  source: "notice" | "catch_up";
  order_no: string;
  quantity: number;
  filled_total: number;
  uncertain?: true;
}

const createAccount = (broker: "KIS" | "KIWOOM", hts: string) =>
  createBrokerAccount(server, broker, { config: broker === "KIS" ? { hts_id: hts } : {} });

async function client(on = hub) {
  const connected = await connectStreamClient(on.url, on.readerKey);
  clients.push(connected);
  return connected;
}

/** `filled` more shares of order `orderNumber` (of `quantity`): true when a live session was sent its notice. */
const fill = (
  broker: "KIS" | "KIWOOM",
  account: TestBrokerAccount,
  orderNumber: string,
  filled: number,
  quantity = 5,
) =>
  server.sandbox.sandbox.streams.notify(
    orderEvent(broker, account, {
      orderNumber,
      orderQuantity: quantity,
      filledQuantity: filled,
    }),
  );

const fillsOf = (c: StreamClient) =>
  c.messages.filter((m) => m.kind === "notice" && m.fill).map((m) => m.fill as Fill);

/** Shares told per order number, all events together. */
function sharesByOrder(fills: Fill[]) {
  const shares: Record<string, number> = {};
  for (const f of fills) shares[f.order_no] = (shares[f.order_no] ?? 0) + f.quantity;
  return shares;
}

/** A client on the account's notices, once they reach it live. */
async function watching(broker: "KIS" | "KIWOOM", account: TestBrokerAccount, on = hub) {
  const c = await client(on);
  c.send({ op: "subscribe", account_id: account.id, kind: "notice" });
  await noticesLive(server, c, broker, account);
  return c;
}

beforeAll(async () => {
  server = await startTestServer({ env: { KIWOOM_MIN_ISSUE_INTERVAL_MS: "1000" } });
  server.sandbox.sandbox.streams.configure({ pingIntervalMs: 150 });
  hub = await startTestHub(server);
  hubs.push(hub);
});

afterAll(async () => {
  for (const c of clients) c.close();
  for (const h of hubs) await h.stop();
  await server?.stop();
});

describe("fills sent while no session was up", () => {
  for (const [index, broker] of (["KIS", "KIWOOM"] as const).entries()) {
    test(`${broker}: arrive from the day orders once the session is back, each order's shares told once`, async () => {
      const account = await createAccount(broker, `htscatch${index}`);
      const c = await watching(broker, account);
      const caughtUpBefore = hub.hub.stats().noticesCaughtUp;
      expect(fill(broker, account, "0000000901", 2)).toBe(true);
      await until(() => fillsOf(c).some((f) => f.order_no === "901"));

      server.sandbox.sandbox.streams.drop();
      // The broker keeps these in its day orders; no session hears them.
      expect(fill(broker, account, "0000000901", 3)).toBe(false);
      expect(fill(broker, account, "0000000902", 4, 4)).toBe(false);

      // The silence noticed (600 ms here), a new session, its catch-up (1 s settle).
      await until(() => fillsOf(c).some((f) => f.order_no === "902"), 10_000);
      await until(() => sharesByOrder(fillsOf(c))["901"] === 5);
      // Back live: a fill now is told by its notice.
      await until(() => fill(broker, account, "0000000903", 1, 1));
      await until(() => fillsOf(c).some((f) => f.order_no === "903"));
      await new Promise((resolve) => setTimeout(resolve, 300));

      const fills = fillsOf(c);
      expect(sharesByOrder(fills)).toEqual({ "901": 5, "902": 4, "903": 1 });
      expect(fills.filter((f) => f.order_no === "901")).toEqual([
        { source: "notice", order_no: "901", quantity: 2, filled_total: 2 },
        { source: "catch_up", order_no: "901", quantity: 3, filled_total: 5 },
      ]);
      expect(fills.find((f) => f.order_no === "902")).toEqual({
        source: "catch_up",
        order_no: "902",
        quantity: 4,
        filled_total: 4,
      });
      expect(fills.find((f) => f.order_no === "903")?.source).toBe("notice");
      expect(hub.hub.stats().noticesCaughtUp - caughtUpBefore).toBe(2);

      // The store holds what was sent: a client from the start reads the same fills.
      const replay = await client();
      replay.send({ op: "subscribe", account_id: account.id, kind: "notice", since: 0 });
      await until(() => fillsOf(replay).length === fills.length);
      expect(fillsOf(replay)).toEqual(fills);
    });
  }

  test("across a hub restart: a fill while no hub ran comes with since, after the ones already read", async () => {
    const own = await startTestHub(server);
    hubs.push(own);
    const account = await createAccount("KIWOOM", "unused");
    const first = await watching("KIWOOM", account, own);
    const lastSeq = Math.max(
      ...first.messages.filter((m) => typeof m.seq === "number").map((m) => m.seq as number),
    );
    await own.stop();
    expect(fill("KIWOOM", account, "0000000911", 2, 2)).toBe(false);

    const next = await startTestHub(server);
    hubs.push(next);
    const back = await client(next);
    back.send({ op: "subscribe", account_id: account.id, kind: "notice", since: lastSeq });
    await until(() => fillsOf(back).some((f) => f.order_no === "911"), 10_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(fillsOf(back)).toEqual([
      { source: "catch_up", order_no: "911", quantity: 2, filled_total: 2 },
    ]);
  });
});

describe("a first subscription", () => {
  test("brings the day's fills so far, then nothing twice when subscribed again", async () => {
    const account = await createAccount("KIS", "htsfirst");
    // Filled before any client watched the account's notices: no session heard it.
    expect(fill("KIS", account, "0000000921", 3, 3)).toBe(false);
    const c = await client();
    c.send({ op: "subscribe", account_id: account.id, kind: "notice" });
    await until(() => fillsOf(c).some((f) => f.order_no === "921"), 10_000);
    c.send({ op: "unsubscribe", account_id: account.id, kind: "notice" });
    await c.next((m) => m.type === "unsubscribed");
    c.send({ op: "subscribe", account_id: account.id, kind: "notice" });
    await until(() => c.messages.filter((m) => m.type === "subscribed").length === 2);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(fillsOf(c)).toEqual([
      { source: "catch_up", order_no: "921", quantity: 3, filled_total: 3 },
    ]);
  });
});

describe("a notice the broker never sent while the session was up", () => {
  test("is caught up by the periodic check of the day orders (STREAM_CATCH_UP_INTERVAL_MS)", async () => {
    const own = await startTestHub(server, { STREAM_CATCH_UP_INTERVAL_MS: "300" });
    hubs.push(own);
    const account = await createAccount("KIWOOM", "unused");
    const c = await watching("KIWOOM", account, own);
    const reconnects = own.hub.stats().reconnects;
    server.sandbox.sandbox.streams.configure({ loseNotices: 1 });
    expect(fill("KIWOOM", account, "0000000931", 2, 2)).toBe(false);
    await until(() => fillsOf(c).some((f) => f.order_no === "931"), 8_000);
    expect(fillsOf(c).find((f) => f.order_no === "931")).toEqual({
      source: "catch_up",
      order_no: "931",
      quantity: 2,
      filled_total: 2,
    });
    // Heard without a reconnect: the session stayed up throughout.
    expect(own.hub.stats().reconnects).toBe(reconnects);
    expect(server.sandbox.sandbox.streams.stats().noticesLost).toBe(1);
  });
});

describe("a busy account checked often", () => {
  test("counts each live fill once (a check reading a fill whose notice is on its way adds nothing) and finds the one lost", async () => {
    const own = await startTestHub(server, { STREAM_CATCH_UP_INTERVAL_MS: "50" });
    hubs.push(own);
    const account = await createAccount("KIS", "htsbusy");
    const c = await watching("KIS", account, own);
    // Each notice leaves 100 ms after the day orders show its fill.
    server.sandbox.sandbox.streams.configure({ noticeDelayMs: 100 });
    // Two shares at a time of one 200-share order, every 10 ms, while the hub checks every 50 ms.
    for (let sent = 0; sent < 100; sent += 1) {
      // One notice the broker never sends, midway: its 2 shares come from the day orders.
      if (sent === 50) server.sandbox.sandbox.streams.configure({ loseNotices: 1 });
      fill("KIS", account, "0000000941", 2, 200);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await until(() => (sharesByOrder(fillsOf(c))["941"] ?? 0) >= 200, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    server.sandbox.sandbox.streams.configure({ noticeDelayMs: 0 });
    const fills = fillsOf(c);
    expect(fills.filter((f) => f.uncertain)).toEqual([]);
    expect(sharesByOrder(fills)).toEqual({ "941": 200 });
    expect(fills.filter((f) => f.source === "catch_up").map((f) => f.quantity)).toEqual([2]);
  });
});

import { randomBytes } from "node:crypto";
import { beforeEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { formatKoreaTime } from "../../core/brokers";
import type { SandboxOrderEvent } from "../../dev/sandbox";
import { orderEvent } from "../support/notices";
import { resetSandbox, useBrokerSandbox } from "../support/sandbox";

const current = useBrokerSandbox();

const KIS_DAY_ORDERS = "/uapi/domestic-stock/v1/trading/inquire-daily-ccld";

// biome-ignore lint/suspicious/noExplicitAny: the tests read the brokers' JSON shapes field by field
type Json = any;

const today = () => formatKoreaTime(current().clock.now(), "compact").slice(0, 8);

/** A made-up fill of one share at 70,000 won, for an order number no REST call booked. */
const fill = (
  broker: "KIS" | "KIWOOM",
  appKey: string,
  change: Partial<SandboxOrderEvent> = {},
): SandboxOrderEvent =>
  orderEvent(
    broker,
    { appKey, accountNumber: broker === "KIS" ? "5012345601" : "5012345678" },
    { orderNumber: "0000077777", ...change },
  );

/** A fresh KIS app key with a token, and its day orders of today for one CANO and product. */
async function kisDesk() {
  const base = current().sandbox.baseUrls.KIS.real;
  const appKey = `PS${randomBytes(6).toString("hex")}`;
  const issued: Json = await fetch(`${base}/oauth2/tokenP`, {
    method: "POST",
    body: JSON.stringify({ grant_type: "client_credentials", appkey: appKey, appsecret: "s" }),
  }).then((response) => response.json());
  const dayOrders = async (cano: string, product: string): Promise<Json[]> => {
    const query = new URLSearchParams({
      CANO: cano,
      ACNT_PRDT_CD: product,
      INQR_STRT_DT: today(),
      INQR_END_DT: today(),
      SLL_BUY_DVSN_CD: "00",
      INQR_DVSN: "00",
      CCLD_DVSN: "00",
    });
    const answer: Json = await fetch(`${base}${KIS_DAY_ORDERS}?${query}`, {
      headers: {
        authorization: `Bearer ${issued.access_token}`,
        appkey: appKey,
        appsecret: "s",
        tr_id: "TTTC0081R",
      },
    }).then((response) => response.json());
    expect(answer.rt_cd).toBe("0");
    return answer.output1;
  };
  return { appKey, dayOrders };
}

/** A fresh Kiwoom app key with a token: its calls, and its book's orders of today. */
async function kiwoomDesk() {
  const { sandbox } = current();
  const base = sandbox.baseUrls.KIWOOM.real;
  const appKey = `kw${randomBytes(6).toString("hex")}`;
  const issued: Json = await fetch(`${base}/oauth2/token`, {
    method: "POST",
    body: JSON.stringify({ grant_type: "client_credentials", appkey: appKey, secretkey: "s" }),
  }).then((response) => response.json());
  const call = (path: string, apiId: string, body: unknown): Promise<Json> =>
    fetch(`${base}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${issued.token}`, "api-id": apiId },
      body: JSON.stringify(body),
    }).then((response) => response.json());
  const dayOrders = async (): Promise<Json[]> => {
    const answer = await call("/api/dostk/acnt", "kt00007", {
      ord_dt: today(),
      qry_tp: "1",
      stk_bond_tp: "0",
      sell_tp: "0",
      stk_cd: "",
      fr_ord_no: "",
      dmst_stex_tp: "%",
    });
    expect(answer.return_code).toBe(0);
    return answer.acnt_ord_cntr_prps_dtl;
  };
  const order = () =>
    call("/api/dostk/ordr", "kt10000", {
      dmst_stex_tp: "KRX",
      stk_cd: "005930",
      ord_qty: "1",
      ord_uv: "70000",
      trde_tp: "0",
    });
  return { appKey, token: issued.token as string, dayOrders, order };
}

/** A Kiwoom websocket logged in with `token` and registered for order notices (00); its frames so far. */
async function kiwoomNotices(token: string) {
  const socket = new WebSocket(current().sandbox.wsUrls.KIWOOM.real);
  const frames: Json[] = [];
  socket.on("message", (data) => frames.push(JSON.parse(String(data))));
  const answered = async (trnm: string) => {
    const deadline = Date.now() + 5_000;
    while (!frames.some((frame) => frame.trnm === trnm)) {
      if (Date.now() > deadline) throw new Error(`no ${trnm} answer`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  await new Promise((resolve) => socket.once("open", resolve));
  socket.send(JSON.stringify({ trnm: "LOGIN", token }));
  await answered("LOGIN");
  socket.send(
    JSON.stringify({
      trnm: "REG",
      grp_no: "1",
      refresh: "1",
      data: [{ item: [""], type: ["00"] }],
    }),
  );
  await answered("REG");
  const notices = () => frames.filter((frame) => frame.trnm === "REAL");
  return { socket, notices };
}

beforeEach(() => {
  const { sandbox } = current();
  resetSandbox(sandbox);
  // Kiwoom's 5/s would pace these back-to-back queries; the pace is not what is tested here.
  sandbox.configure({
    callsPerSecond: { KIS: { real: 0, paper: 0 }, KIWOOM: { real: 0, paper: 0 } },
  });
});

describe("a fill no websocket heard is in the broker's day orders", () => {
  it("KIS: notify without a session answers false, and the order is in the CANO-ACNT_PRDT_CD's day orders, filled", async () => {
    const desk = await kisDesk();
    expect(current().sandbox.streams.notify(fill("KIS", desk.appKey))).toBe(false);
    expect(await desk.dayOrders("50123456", "01")).toEqual([
      expect.objectContaining({
        odno: "0000077777",
        pdno: "005930",
        sll_buy_dvsn_cd: "02",
        ord_qty: "1",
        ord_unpr: "70000",
        ord_dt: today(),
        tot_ccld_qty: "1",
        rmn_qty: "0",
        tot_ccld_amt: "70000",
        avg_prvs: "70000",
      }),
    ]);
    // Another product of the same CANO is another account.
    expect(await desk.dayOrders("50123456", "02")).toEqual([]);
  });

  it("KIS: two partial fills of one order show 2, then 5 of 5 filled", async () => {
    const desk = await kisDesk();
    const { streams } = current().sandbox;
    const part = (filledQuantity: number) =>
      fill("KIS", desk.appKey, { orderQuantity: 5, filledQuantity, price: 1_000 });
    streams.notify(part(2));
    expect(await desk.dayOrders("50123456", "01")).toEqual([
      expect.objectContaining({
        tot_ccld_qty: "2",
        rmn_qty: "3",
        tot_ccld_amt: "2000",
        avg_prvs: "1000",
      }),
    ]);
    streams.notify(part(3));
    expect(await desk.dayOrders("50123456", "01")).toEqual([
      expect.objectContaining({ tot_ccld_qty: "5", rmn_qty: "0", tot_ccld_amt: "5000" }),
    ]);
  });

  it("KIS: a booked event books the order with nothing filled, and a fill never counts past the quantity", async () => {
    const desk = await kisDesk();
    const { streams } = current().sandbox;
    const event = fill("KIS", desk.appKey, { orderQuantity: 3, filledQuantity: 2 });
    streams.notify({ ...event, status: "booked" });
    expect(await desk.dayOrders("50123456", "01")).toEqual([
      expect.objectContaining({ tot_ccld_qty: "0", rmn_qty: "3", avg_prvs: "0" }),
    ]);
    streams.notify(event);
    streams.notify(event);
    expect(await desk.dayOrders("50123456", "01")).toEqual([
      expect.objectContaining({ tot_ccld_qty: "3", rmn_qty: "0" }),
    ]);
  });

  it("KIS: an 8-digit account number (no product code) is product 01's", async () => {
    const desk = await kisDesk();
    current().sandbox.streams.notify(fill("KIS", desk.appKey, { accountNumber: "50123456" }));
    expect(await desk.dayOrders("50123456", "01")).toHaveLength(1);
  });

  it("Kiwoom: POST /_sandbox/stream/fill without a session answers sent false, and the app key's kt00007 shows the fill", async () => {
    const { sandbox } = current();
    const desk = await kiwoomDesk();
    const answer = await fetch(`${sandbox.url}/_sandbox/stream/fill`, {
      method: "POST",
      body: JSON.stringify({
        broker: "KIWOOM",
        environment: "real",
        app_key: desk.appKey,
        account_number: "5012345678",
        order_number: "0012345",
        symbol: "005930",
        side: "sell",
        order_quantity: 5,
        filled_quantity: 2,
        price: 70_000,
      }),
    });
    expect(await answer.json()).toEqual({ sent: false });
    expect(await desk.dayOrders()).toEqual([
      expect.objectContaining({
        ord_no: "0012345",
        io_tp_nm: "현금매도",
        ord_qty: "5",
        cntr_qty: "2",
        ord_remnq: "3",
        cntr_uv: "70000",
      }),
    ]);
  });

  it("Kiwoom: two partial fills of one order show 2, then 5 of 5 filled", async () => {
    const desk = await kiwoomDesk();
    const { streams } = current().sandbox;
    const part = (filledQuantity: number) =>
      fill("KIWOOM", desk.appKey, { orderQuantity: 5, filledQuantity });
    expect(streams.notify(part(2))).toBe(false);
    expect(await desk.dayOrders()).toEqual([
      expect.objectContaining({ cntr_qty: "2", ord_remnq: "3", cntr_uv: "70000" }),
    ]);
    streams.notify(part(3));
    expect(await desk.dayOrders()).toEqual([
      expect.objectContaining({ cntr_qty: "5", ord_remnq: "0" }),
    ]);
  });

  it("Kiwoom: an order placed after an event booked the next number gets a number of its own", async () => {
    const desk = await kiwoomDesk();
    const first = (await desk.order()).ord_no as string;
    const taken = String(Number(first) + 1).padStart(7, "0");
    current().sandbox.streams.notify(fill("KIWOOM", desk.appKey, { orderNumber: taken }));
    const second = (await desk.order()).ord_no as string;
    expect(second).not.toBe(taken);
    const rows = await desk.dayOrders();
    expect(rows.map((row) => row.ord_no)).toEqual([first, taken, second]);
    expect(rows.every((row) => row.cntr_qty === "1")).toBe(true);
  });
});

describe("the Kiwoom order notice (REAL 00)", () => {
  it("902 is what remains unfilled of the order after each partial fill, 911 this fill's quantity", async () => {
    const desk = await kiwoomDesk();
    const { socket, notices } = await kiwoomNotices(desk.token);
    const { streams } = current().sandbox;
    const part = (filledQuantity: number) =>
      fill("KIWOOM", desk.appKey, { orderNumber: "0054321", orderQuantity: 5, filledQuantity });
    try {
      expect(streams.notify(part(2))).toBe(true);
      expect(streams.notify(part(3))).toBe(true);
      const deadline = Date.now() + 5_000;
      while (notices().length < 2 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const values = notices().map((frame) => frame.data[0].values);
      expect(values).toEqual([
        expect.objectContaining({ "9203": "0054321", "900": "5", "911": "2", "902": "3" }),
        expect.objectContaining({ "9203": "0054321", "900": "5", "911": "3", "902": "0" }),
      ]);
      // Heard or not, the fills are in the day orders, counted once.
      expect(await desk.dayOrders()).toEqual([
        expect.objectContaining({ ord_no: "0054321", cntr_qty: "5", ord_remnq: "0" }),
      ]);
    } finally {
      socket.close();
    }
  });
});

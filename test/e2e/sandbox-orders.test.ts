import { randomBytes } from "node:crypto";
import http from "node:http";
import { beforeEach, describe, expect, it } from "vitest";
import { formatKoreaTime } from "../../core/brokers";
import { resetSandbox, useBrokerSandbox } from "../support/sandbox";

const current = useBrokerSandbox();

const ORDER = "/uapi/domestic-stock/v1/trading/order-cash";
const DAY_ORDERS = "/uapi/domestic-stock/v1/trading/inquire-daily-ccld";

function orderBody(quantity: string) {
  return {
    CANO: "12345678",
    ACNT_PRDT_CD: "01",
    PDNO: "005930",
    ORD_DVSN: "00",
    ORD_QTY: quantity,
    ORD_UNPR: "70000",
  };
}

async function json(response: Response) {
  return {
    status: response.status,
    headers: response.headers,
    // biome-ignore lint/suspicious/noExplicitAny: the tests read several brokers' JSON shapes field by field
    body: (await response.json()) as any,
  };
}

async function kis(appKey: string) {
  const { sandbox } = current();
  const base = sandbox.baseUrls.KIS.real;
  const issued = await json(
    await fetch(`${base}/oauth2/tokenP`, {
      method: "POST",
      body: JSON.stringify({ grant_type: "client_credentials", appkey: appKey, appsecret: "s" }),
    }),
  );
  const headers = (trId: string, extra: Record<string, string> = {}) => ({
    authorization: `Bearer ${issued.body.access_token}`,
    appkey: appKey,
    appsecret: "s",
    tr_id: trId,
    ...extra,
  });
  return {
    token: issued.body.access_token as string,
    order: (quantity: string) =>
      fetch(`${base}${ORDER}`, {
        method: "POST",
        headers: headers("TTTC0012U"),
        body: JSON.stringify(orderBody(quantity)),
      }).then(json),
    dayOrders: (query: Record<string, string>, extra: Record<string, string> = {}) =>
      fetch(`${base}${DAY_ORDERS}?${new URLSearchParams(query)}`, {
        headers: headers("TTTC0081R", extra),
      }).then(json),
  };
}

const today = () => formatKoreaTime(current().clock.now(), "compact").slice(0, 8);

beforeEach(() => resetSandbox(current().sandbox));

describe("the sandbox books orders like a broker", () => {
  it("answers inquire-daily-ccld with the booked orders in pages, with the real field names, the fills and tr_cont", async () => {
    const { sandbox } = current();
    sandbox.configure({ dayOrdersPageSize: 2 });
    const account = await kis(`PS${randomBytes(6).toString("hex")}`);
    const numbers: string[] = [];
    for (const quantity of ["1", "2", "3"]) {
      const placed = await account.order(quantity);
      expect(placed.body.rt_cd).toBe("0");
      numbers.push(placed.body.output.ODNO);
    }
    const query = {
      CANO: "12345678",
      ACNT_PRDT_CD: "01",
      INQR_STRT_DT: today(),
      INQR_END_DT: today(),
      SLL_BUY_DVSN_CD: "02",
      INQR_DVSN: "00",
      PDNO: "005930",
      CCLD_DVSN: "00",
    };
    const first = await account.dayOrders({ ...query, CTX_AREA_FK100: "", CTX_AREA_NK100: "" });
    expect(first.headers.get("tr_cont")).toBe("F");
    expect(first.body.output1).toHaveLength(2);
    expect(first.body.output1[0]).toMatchObject({
      odno: numbers[2],
      pdno: "005930",
      sll_buy_dvsn_cd: "02",
      ord_qty: "3",
      ord_unpr: "70000",
      ord_dt: today(),
      ord_tmd: expect.stringMatching(/^\d{6}$/),
      // The sandbox fills every order at once, at its price.
      tot_ccld_qty: "3",
      rmn_qty: "0",
      tot_ccld_amt: "210000",
      avg_prvs: "70000",
    });
    expect(first.body.output2.tot_ccld_qty).toBe("6");
    const next = await account.dayOrders(
      {
        ...query,
        CTX_AREA_FK100: first.body.ctx_area_fk100,
        CTX_AREA_NK100: first.body.ctx_area_nk100,
      },
      { tr_cont: "N" },
    );
    expect(next.headers.get("tr_cont")).toBe("E");
    expect(next.body.output1.map((row: { odno: string }) => row.odno)).toEqual([numbers[0]]);
    const sells = await account.dayOrders({ ...query, SLL_BUY_DVSN_CD: "01" });
    expect(sells.body.output1).toEqual([]);
  });

  it("books an order whose client went away before the answer, and counts it per account", async () => {
    const { sandbox } = current();
    const appKey = `PS${randomBytes(6).toString("hex")}`;
    const account = await kis(appKey);
    await account.order("1");
    sandbox.configure({ latencyMs: 300 });
    const { token } = account;
    await new Promise<void>((resolve) => {
      const request = http.request(`${sandbox.baseUrls.KIS.real}${ORDER}`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          appkey: appKey,
          appsecret: "s",
          tr_id: "TTTC0012U",
        },
      });
      request.on("error", () => resolve());
      request.end(JSON.stringify(orderBody("5")));
      setTimeout(() => {
        request.destroy();
        resolve();
      }, 50);
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const stats = sandbox.stats();
    expect(stats.orders.booked).toBe(2);
    expect(stats.orders.byAccount[`KIS real ${appKey} 12345678-01`]).toBe(2);
  });

  it("accept_then_reset books the order and destroys the connection", async () => {
    const { sandbox } = current();
    const account = await kis(`PS${randomBytes(6).toString("hex")}`);
    sandbox.configure({ orderFaults: { [`KIS ${ORDER}`]: ["accept_then_reset"] } });
    await expect(account.order("1")).rejects.toThrow();
    expect(sandbox.stats().orders.booked).toBe(1);
    expect(sandbox.stats().orderFaults).toEqual({ accept_then_reset: 1 });
  });

  it("refuses an order fault switch with an unknown kind, naming the rule", async () => {
    const { sandbox } = current();
    const answer = await fetch(`${sandbox.url}/_sandbox/config`, {
      method: "POST",
      body: JSON.stringify({ orderFaults: { [`KIS ${ORDER}`]: ["explode"] } }),
    });
    expect(answer.status).toBe(400);
    expect(((await answer.json()) as { error: string }).error).toContain("accept_then_hang");
  });

  it("answers kt00007 with the booked and filled Kiwoom orders, paged with cont-yn and next-key", async () => {
    const { sandbox } = current();
    sandbox.configure({
      dayOrdersPageSize: 1,
      callsPerSecond: { KIS: { real: 20, paper: 2 }, KIWOOM: { real: 0, paper: 1 } },
    });
    const appKey = `kw${randomBytes(6).toString("hex")}`;
    const base = sandbox.baseUrls.KIWOOM.real;
    const issued = await json(
      await fetch(`${base}/oauth2/token`, {
        method: "POST",
        body: JSON.stringify({ grant_type: "client_credentials", appkey: appKey, secretkey: "s" }),
      }),
    );
    const call = (path: string, apiId: string, body: unknown, extra: Record<string, string> = {}) =>
      fetch(`${base}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${issued.body.token}`, "api-id": apiId, ...extra },
        body: JSON.stringify(body),
      }).then(json);
    for (const api of ["kt10000", "kt10001"]) {
      const placed = await call("/api/dostk/ordr", api, {
        dmst_stex_tp: "KRX",
        stk_cd: "005930",
        ord_qty: "2",
        ord_uv: "70000",
        trde_tp: "0",
      });
      expect(placed.body.ord_no).toMatch(/^\d{7}$/);
    }
    const query = {
      ord_dt: today(),
      qry_tp: "1",
      stk_bond_tp: "0",
      sell_tp: "0",
      stk_cd: "005930",
      fr_ord_no: "",
      dmst_stex_tp: "%",
    };
    const first = await call("/api/dostk/acnt", "kt00007", query);
    expect(first.headers.get("cont-yn")).toBe("Y");
    expect(first.body.acnt_ord_cntr_prps_dtl).toEqual([
      expect.objectContaining({
        stk_cd: "005930",
        io_tp_nm: "현금매수",
        ord_qty: "2",
        ord_uv: "70000",
        cntr_qty: "2",
        ord_remnq: "0",
        cntr_uv: "70000",
      }),
    ]);
    const next = await call("/api/dostk/acnt", "kt00007", query, {
      "cont-yn": "Y",
      "next-key": first.headers.get("next-key") ?? "",
    });
    expect(next.headers.get("cont-yn")).toBe("N");
    expect(next.body.acnt_ord_cntr_prps_dtl[0].io_tp_nm).toBe("현금매도");
  });
});

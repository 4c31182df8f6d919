import { describe, expect, test } from "vitest";
import { kisOrderDesk } from "../../core/brokers/kis-orders";
import { kiwoomOrderDesk } from "../../core/brokers/kiwoom-orders";

/** The day-orders queries: one order's terms (reconciliation) or the whole account (the hub's catch-up). */
describe("KIS inquire-daily-ccld", () => {
  const account = kisOrderDesk.accountParams({ account_number: "50123456", product_code: "01" });

  test("asks for every order of the account when no symbol or side narrows it", () => {
    const query = new URLSearchParams(
      kisOrderDesk.dayOrdersQuery("real", { account }, "20261204").query,
    );
    expect(Object.fromEntries(query)).toMatchObject({
      CANO: "50123456",
      ACNT_PRDT_CD: "01",
      INQR_STRT_DT: "20261204",
      SLL_BUY_DVSN_CD: "00",
      PDNO: "",
      CCLD_DVSN: "00",
    });
  });

  test("narrows to an order's symbol and side", () => {
    const query = new URLSearchParams(
      kisOrderDesk.dayOrdersQuery("paper", { account, symbol: "005930", side: "sell" }, "20261204")
        .query,
    );
    expect(query.get("SLL_BUY_DVSN_CD")).toBe("01");
    expect(query.get("PDNO")).toBe("005930");
  });

  test("reads each row's filled total (tot_ccld_qty)", () => {
    const read = kisOrderDesk.readDayOrders(new Headers({ tr_cont: "D" }), {
      output1: [
        {
          odno: "0000012345",
          pdno: "005930",
          sll_buy_dvsn_cd: "02",
          ord_qty: "5",
          ord_unpr: "70000",
          ord_tmd: "100000",
          tot_ccld_qty: "3",
        },
        {
          odno: "0000012346",
          pdno: "005930",
          sll_buy_dvsn_cd: "01",
          ord_qty: "1",
          ord_unpr: "0",
          ord_tmd: "100001",
        },
      ],
    });
    expect(read?.rows.map((row) => [row.orderNo, row.side, row.filled])).toEqual([
      ["0000012345", "buy", "3"],
      ["0000012346", "sell", "0"],
    ]);
    expect(read?.next).toBeUndefined();
  });
});

describe("Kiwoom kt00007", () => {
  test("asks for every order (sell_tp 0, no stk_cd) when nothing narrows it", () => {
    const body = JSON.parse(
      kiwoomOrderDesk.dayOrdersQuery(
        "real",
        { account: kiwoomOrderDesk.accountParams({ account_number: "5012345678" }) },
        "20261204",
      ).body ?? "{}",
    );
    expect(body).toMatchObject({ ord_dt: "20261204", sell_tp: "0", stk_cd: "" });
  });

  test("reads each row's filled total (cntr_qty)", () => {
    const read = kiwoomOrderDesk.readDayOrders(new Headers({ "cont-yn": "N" }), {
      acnt_ord_cntr_prps_dtl: [
        {
          ord_no: "0012345",
          stk_cd: "A005930",
          io_tp_nm: "현금매수",
          ord_qty: "5",
          ord_uv: "70000",
          ord_tm: "10:00:00",
          cntr_qty: "5",
        },
      ],
    });
    expect(read?.rows).toEqual([
      {
        orderNo: "0012345",
        symbol: "005930",
        side: "buy",
        quantity: "5",
        price: "70000",
        time: "100000",
        filled: "5",
      },
    ]);
  });
});

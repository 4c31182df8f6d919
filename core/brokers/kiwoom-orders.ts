import { asRecord, stringField } from "./http";
import type { DayOrder, OrderDesk, OrderSide } from "./orders";

/** Kiwoom order paths (BROKERS.md "Orders"): cash kt10000–kt10003, credit kt10006–kt10009. */
const ORDER_PATHS: ReadonlySet<string> = new Set(["/api/dostk/ordr", "/api/dostk/crdordr"]);

/** New orders' side is in the api-id (cash and credit). */
const SIDES: Record<string, OrderSide> = {
  kt10000: "buy",
  kt10001: "sell",
  kt10006: "buy",
  kt10007: "sell",
};

/** The Kiwoom side of orders: the order's terms, ord_no, and kt00007. */
export const kiwoomOrderDesk: OrderDesk = {
  orderPaths: ORDER_PATHS,

  orderTerms(apiId, body) {
    const record = asRecord(body);
    const side = apiId ? SIDES[apiId] : undefined;
    if (!record || !side) return undefined;
    const symbol = stringField(record, "stk_cd");
    const quantity = stringField(record, "ord_qty");
    if (!symbol || !quantity) return undefined;
    return { symbol, side, quantity, price: stringField(record, "ord_uv") ?? "0", account: {} };
  },

  orderNumber(body) {
    const record = asRecord(body);
    return record ? stringField(record, "ord_no") : undefined;
  },

  accountParams: () => ({}),

  dayOrdersQuery(_environment, filter, date, cursor) {
    return {
      method: "POST",
      path: "/api/dostk/acnt",
      query: "",
      body: JSON.stringify({
        ord_dt: date,
        qry_tp: "1",
        stk_bond_tp: "0",
        sell_tp: filter.side === "sell" ? "1" : filter.side === "buy" ? "2" : "0",
        stk_cd: filter.symbol ?? "",
        fr_ord_no: "",
        dmst_stex_tp: "%",
      }),
      headers: {
        "api-id": "kt00007",
        ...(cursor ? { "cont-yn": "Y", "next-key": cursor.nextKey ?? "" } : {}),
      },
    };
  },

  readDayOrders(headers, body) {
    const record = asRecord(body);
    if (!record || !Array.isArray(record.acnt_ord_cntr_prps_dtl)) return undefined;
    const rows: DayOrder[] = [];
    for (const item of record.acnt_ord_cntr_prps_dtl) {
      const row = asRecord(item);
      const field = (name: string) => (row ? stringField(row, name) : undefined) ?? "";
      if (!row || !field("ord_no")) continue;
      rows.push({
        orderNo: field("ord_no"),
        symbol: field("stk_cd").replace(/^A/, ""),
        side: field("io_tp_nm").includes("매도") ? "sell" : "buy",
        quantity: field("ord_qty"),
        price: field("ord_uv"),
        time: field("ord_tm").replaceAll(":", ""),
        filled: field("cntr_qty") || "0",
      });
    }
    const nextKey = headers.get("next-key") ?? "";
    return {
      rows,
      next: headers.get("cont-yn") === "Y" && nextKey !== "" ? { nextKey } : undefined,
    };
  },
};

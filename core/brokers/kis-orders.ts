import { asRecord, stringField } from "./http";
import type { DayOrder, OrderDesk, OrderSide } from "./orders";

/** KIS order paths (BROKERS.md "Orders"): domestic and overseas orders, changes, cancels. */
const ORDER_PATHS: ReadonlySet<string> = new Set([
  "/uapi/domestic-stock/v1/trading/order-cash",
  "/uapi/domestic-stock/v1/trading/order-credit",
  "/uapi/domestic-stock/v1/trading/order-rvsecncl",
  "/uapi/domestic-stock/v1/trading/order-resv",
  "/uapi/overseas-stock/v1/trading/order",
  "/uapi/overseas-stock/v1/trading/order-rvsecncl",
  "/uapi/overseas-stock/v1/trading/daytime-order",
]);

/**
 * Domestic new orders' side is in the tr_id (real or paper, current or older
 * id): cash (order-cash) and credit (order-credit, TTTC0052U buy and
 * TTTC0051U sell in KIS's own samples; real only). Both take the same
 * CANO, ACNT_PRDT_CD, PDNO, ORD_QTY and ORD_UNPR, answer ODNO, and show in
 * inquire-daily-ccld, so both are reconciled the same way.
 */
const DOMESTIC_SIDES: Record<string, OrderSide> = {
  "0012U": "buy",
  "0802U": "buy",
  "0011U": "sell",
  "0801U": "sell",
  "0052U": "buy",
  "0051U": "sell",
};

const DAY_ORDERS_PATH = "/uapi/domestic-stock/v1/trading/inquire-daily-ccld";
/** inquire-daily-ccld within 3 months; the paper id is the V twin. */
const DAY_ORDERS_TR_IDS = { real: "TTTC0081R", paper: "VTTC0081R" };

/** The KIS side of orders: the cash order's terms, ODNO, and inquire-daily-ccld. */
export const kisOrderDesk: OrderDesk = {
  orderPaths: ORDER_PATHS,

  orderTerms(trId, body) {
    const record = asRecord(body);
    const side = trId && /^[TJCV]TTC/.test(trId) ? DOMESTIC_SIDES[trId.slice(4)] : undefined;
    if (!record || !side) return undefined;
    const [symbol, quantity, price, cano, product] = [
      "PDNO",
      "ORD_QTY",
      "ORD_UNPR",
      "CANO",
      "ACNT_PRDT_CD",
    ].map((name) => stringField(record, name));
    if (!symbol || !quantity || price === undefined || !cano || !product) return undefined;
    return { symbol, side, quantity, price, account: { CANO: cano, ACNT_PRDT_CD: product } };
  },

  orderNumber(body) {
    const output = asRecord(asRecord(body)?.output);
    return output ? stringField(output, "ODNO") : undefined;
  },

  accountParams: (config) => ({
    CANO: config.account_number,
    ACNT_PRDT_CD: config.product_code ?? "",
  }),

  dayOrdersQuery(environment, filter, date, cursor) {
    const query = new URLSearchParams({
      CANO: filter.account.CANO ?? "",
      ACNT_PRDT_CD: filter.account.ACNT_PRDT_CD ?? "",
      INQR_STRT_DT: date,
      INQR_END_DT: date,
      SLL_BUY_DVSN_CD: filter.side === "sell" ? "01" : filter.side === "buy" ? "02" : "00",
      INQR_DVSN: "00",
      PDNO: filter.symbol ?? "",
      CCLD_DVSN: "00",
      ORD_GNO_BRNO: "",
      ODNO: "",
      INQR_DVSN_3: "00",
      INQR_DVSN_1: "",
      CTX_AREA_FK100: cursor?.fk ?? "",
      CTX_AREA_NK100: cursor?.nk ?? "",
    });
    return {
      method: "GET",
      path: DAY_ORDERS_PATH,
      query: query.toString(),
      body: undefined,
      headers: { tr_id: DAY_ORDERS_TR_IDS[environment], ...(cursor ? { tr_cont: "N" } : {}) },
    };
  },

  readDayOrders(headers, body) {
    const record = asRecord(body);
    if (!record || !Array.isArray(record.output1)) return undefined;
    const rows: DayOrder[] = [];
    for (const item of record.output1) {
      const row = asRecord(item);
      const field = (name: string) => (row ? stringField(row, name) : undefined) ?? "";
      if (!row || !field("odno")) continue;
      rows.push({
        orderNo: field("odno"),
        symbol: field("pdno"),
        side: field("sll_buy_dvsn_cd") === "01" ? "sell" : "buy",
        quantity: field("ord_qty"),
        price: field("ord_unpr"),
        time: field("ord_tmd"),
        filled: field("tot_ccld_qty") || "0",
      });
    }
    const more = /^[FM]$/.test(headers.get("tr_cont") ?? "");
    const nk = stringField(record, "ctx_area_nk100") ?? "";
    const fk = stringField(record, "ctx_area_fk100") ?? "";
    return { rows, next: more && nk.trim() !== "" ? { fk, nk } : undefined };
  },
};

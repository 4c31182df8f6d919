import type { BrokerEnvironment } from "./types";

/** Buy or sell, whatever the broker calls it (KIS tr_id and 01/02, Kiwoom api-id and 매수/매도). */
export type OrderSide = "buy" | "sell";

/** What an order asks for, as the day's orders show it: what reconciliation matches on. */
export interface OrderTerms {
  symbol: string;
  side: OrderSide;
  /** Whole shares, as text ("10"). */
  quantity: string;
  /** The limit price as text ("70000"; "0" for market orders). */
  price: string;
  /** What the day-orders query needs besides the token (KIS: CANO and ACNT_PRDT_CD). */
  account: Record<string, string>;
}

/** One row of the broker's day orders. */
export interface DayOrder {
  orderNo: string;
  symbol: string;
  side: OrderSide;
  quantity: string;
  price: string;
  /** Korea time of the order, HHMMSS (on the query's date: one day per query). */
  time: string;
  /**
   * Shares filled so far, all fills together (KIS tot_ccld_qty, Kiwoom
   * cntr_qty); absent where it does not say (a notice's order).
   */
  filled?: string;
}

/** Which of an account's day orders a query asks for: all of them unless a symbol or side narrows it. */
export interface DayOrdersFilter {
  /** What the query needs besides the token to name the account (KIS: CANO and ACNT_PRDT_CD). */
  account: Record<string, string>;
  symbol?: string;
  side?: OrderSide;
}

/** A query the gateway sends for the service itself (paced and audited like any other). */
export interface BrokerQuery {
  method: "GET" | "POST";
  path: string;
  query: string;
  body: string | undefined;
  /** The broker headers (tr_id / api-id and paging), as a caller would send them. */
  headers: Record<string, string>;
}

/** Where a day-orders answer says the next page starts; undefined on the last page. */
export type DayOrdersCursor = Record<string, string>;

/**
 * A broker's orders, as the gateway needs them: which paths place or change
 * orders, what an order asks for, its order number, and the day-orders
 * query reconciliation reads (KIS inquire-daily-ccld, Kiwoom kt00007).
 */
export interface OrderDesk {
  /** The paths where a POST places, changes or cancels an order (BROKERS.md "Orders"). */
  readonly orderPaths: ReadonlySet<string>;
  /** An order's terms from its transaction id and body; undefined when they cannot be read (then it is never matched). */
  orderTerms(transactionId: string | undefined, body: unknown): OrderTerms | undefined;
  /** The broker's order number in a successful order answer. */
  orderNumber(body: unknown): string | undefined;
  /**
   * The day-orders query on Korea date `date` (YYYYMMDD) for an order's
   * terms, or for every order of the account; `cursor` continues a previous page.
   */
  dayOrdersQuery(
    environment: BrokerEnvironment,
    filter: DayOrdersFilter,
    date: string,
    cursor?: DayOrdersCursor,
  ): BrokerQuery;
  /** The account's part of a day-orders query from its securities_config (KIS CANO and ACNT_PRDT_CD). */
  accountParams(config: {
    account_number: string;
    product_code?: string | undefined;
  }): Record<string, string>;
  /** A day-orders answer's rows (undefined when it is not one) and where the next page starts. */
  readDayOrders(
    headers: Headers,
    body: unknown,
  ): { rows: DayOrder[]; next: DayOrdersCursor | undefined } | undefined;
}

import { type Broker, type BrokerEnvironment, formatKoreaTime } from "../../core/brokers";

/**
 * What an order fault switch does to the next order on a broker path:
 * - accept_then_hang: books the order, then holds the answer past any client timeout;
 * - accept_then_reset: books the order, then destroys the connection;
 * - error_after_book: books the order, then answers HTTP 500;
 * - reject_before_book: answers the broker's refusal and books nothing.
 */
export type OrderFaultKind =
  | "accept_then_hang"
  | "accept_then_reset"
  | "error_after_book"
  | "reject_before_book";

export const ORDER_FAULT_KINDS: readonly OrderFaultKind[] = [
  "accept_then_hang",
  "accept_then_reset",
  "error_after_book",
  "reject_before_book",
];

/** One order as the sandbox's book holds it. */
export interface BookedOrder {
  /** The broker's order number (KIS ODNO, Kiwoom ord_no). */
  orderNo: string;
  /** Korea date YYYYMMDD and time HHMMSS of booking. */
  date: string;
  time: string;
  symbol: string;
  side: "buy" | "sell";
  quantity: string;
  price: string;
  /** Shares filled so far, at most the quantity. */
  filled: number;
}

/** Whose order: what names an account's book. */
export interface OrderAccount {
  broker: Broker;
  environment: BrokerEnvironment;
  appKey: string;
  /** KIS: CANO + ACNT_PRDT_CD (8 + 2 characters); Kiwoom: the account number, which no label uses. */
  accountNumber: string;
}

/** An order booked or filled, as the websockets report it (KIS H0STCNI0/9, Kiwoom REAL 00). */
export interface SandboxOrderEvent extends OrderAccount {
  orderNumber: string;
  symbol: string;
  side: "buy" | "sell";
  /** "booked": accepted, nothing filled yet; "filled": `filledQuantity` at `price` just filled. */
  status: "booked" | "filled";
  orderQuantity: number;
  filledQuantity: number;
  price: number;
  /**
   * Shares filled after this event, as the book counts them: set by
   * SandboxState.emitOrderEvent, so a caller leaves it out.
   */
  totalFilled?: number;
}

/** An order event once the book has applied it. */
export type AppliedOrderEvent = SandboxOrderEvent & { totalFilled: number };

/** KIS's CANO is 8 digits; a number without the 2-digit product code is taken as product 01, the usual stock account. */
const KIS_CANO_LENGTH = 8;

/**
 * The label of an account's book, the same whether an order comes through
 * REST or as an event: KIS books per app key and CANO-ACNT_PRDT_CD, Kiwoom per
 * app key (its token names no account).
 */
export function accountLabel(account: OrderAccount): string {
  const { broker, environment, appKey, accountNumber } = account;
  if (broker !== "KIS") return `${broker} ${environment} ${appKey}`;
  const cano = accountNumber.slice(0, KIS_CANO_LENGTH);
  const product = accountNumber.slice(KIS_CANO_LENGTH) || "01";
  return `KIS ${environment} ${appKey} ${cano}-${product}`;
}

/** The account's orders, by order number in booking order. */
type Book = Map<string, BookedOrder>;

/** The order books of every account the sandbox has seen, by account label. */
export class OrderBooks {
  private readonly books = new Map<string, Book>();
  private sequence = 0;

  /**
   * Books an order now (Korea date and time from `now`) under the next number
   * `digits` wide that the account's book does not hold yet (an event may have
   * booked a number of its own).
   */
  book(
    account: string,
    order: Omit<BookedOrder, "orderNo" | "date" | "time" | "filled">,
    now: Date,
    digits: number,
  ): BookedOrder {
    const book = this.bookOf(account);
    let orderNo: string;
    do {
      this.sequence += 1;
      orderNo = String(this.sequence).padStart(digits, "0");
    } while (book.has(orderNo));
    return this.add(book, orderNo, order, now);
  }

  /**
   * Applies an order event to its account's book and returns the shares
   * filled after it. An order number the book does not hold is booked with
   * that number first (a broker fills only what it booked), so every fill is
   * in the day's orders whether or not a websocket heard it; a fill adds to
   * the order's filled shares, never past its quantity.
   */
  apply(event: SandboxOrderEvent, now: Date): number {
    const book = this.bookOf(accountLabel(event));
    const order =
      book.get(event.orderNumber) ??
      this.add(
        book,
        event.orderNumber,
        {
          symbol: event.symbol,
          side: event.side,
          quantity: String(event.orderQuantity),
          price: String(event.price),
        },
        now,
      );
    if (event.status === "filled") {
      const quantity = Number.parseInt(order.quantity, 10) || 0;
      order.filled = Math.min(quantity, order.filled + event.filledQuantity);
    }
    return order.filled;
  }

  /** The account's orders of one Korea date, oldest first. */
  day(account: string, date: string): BookedOrder[] {
    return [...(this.books.get(account)?.values() ?? [])].filter((order) => order.date === date);
  }

  private bookOf(account: string): Book {
    let book = this.books.get(account);
    if (!book) {
      book = new Map();
      this.books.set(account, book);
    }
    return book;
  }

  private add(
    book: Book,
    orderNo: string,
    order: Omit<BookedOrder, "orderNo" | "date" | "time" | "filled">,
    now: Date,
  ): BookedOrder {
    const stamp = formatKoreaTime(now, "compact");
    const booked: BookedOrder = {
      ...order,
      orderNo,
      date: stamp.slice(0, 8),
      time: stamp.slice(8),
      filled: 0,
    };
    book.set(orderNo, booked);
    return booked;
  }
}

/** One page of `rows` from `offset`, and the offset of the next page (undefined on the last). */
export function page<T>(
  rows: readonly T[],
  offset: number,
  size: number,
): { rows: T[]; next: number | undefined } {
  const slice = rows.slice(offset, offset + size);
  return { rows: slice, next: offset + size < rows.length ? offset + size : undefined };
}

import { formatKoreaTime } from "../../core/brokers";

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
}

/** The order books of every account the sandbox has seen, by account label. */
export class OrderBooks {
  private readonly books = new Map<string, BookedOrder[]>();
  private sequence = 0;

  /** Books an order now (Korea date and time from `now`); the number is `digits` wide. */
  book(
    account: string,
    order: Omit<BookedOrder, "orderNo" | "date" | "time">,
    now: Date,
    digits: number,
  ): BookedOrder {
    this.sequence += 1;
    const stamp = formatKoreaTime(now, "compact");
    const booked: BookedOrder = {
      ...order,
      orderNo: String(this.sequence).padStart(digits, "0"),
      date: stamp.slice(0, 8),
      time: stamp.slice(8),
    };
    const book = this.books.get(account) ?? [];
    book.push(booked);
    this.books.set(account, book);
    return booked;
  }

  /** The account's orders of one Korea date, oldest first. */
  day(account: string, date: string): BookedOrder[] {
    return (this.books.get(account) ?? []).filter((order) => order.date === date);
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

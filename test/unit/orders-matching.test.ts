import { describe, expect, it } from "vitest";
import type { DayOrder, OrderTerms } from "../../core/brokers";
import { matchingOrders } from "../../core/orders/reconcile";

const terms: OrderTerms = {
  symbol: "005930",
  side: "buy",
  quantity: "10",
  price: "70000",
  account: {},
};
// 09:30:15.600 Korea time.
const sentAt = new Date("2026-01-05T00:30:15.600Z");

function row(change: Partial<DayOrder>): DayOrder {
  return {
    orderNo: "0000000001",
    symbol: "005930",
    side: "buy",
    quantity: "10",
    price: "70000",
    time: "093015",
    ...change,
  };
}

describe("matching a lost order in the broker's day orders", () => {
  it("takes the same terms placed in the send's second or later, numbers compared as numbers", () => {
    const rows = [
      row({}),
      row({ orderNo: "2", time: "093016", quantity: "010", price: "70000.0" }),
    ];
    expect(matchingOrders(rows, terms, sentAt, new Set()).map((r) => r.orderNo)).toEqual([
      "0000000001",
      "2",
    ]);
  });

  it("leaves out orders placed before the send's second, or of another symbol, side, quantity or price", () => {
    const rows = [
      row({ time: "093014" }),
      row({ symbol: "000660" }),
      row({ side: "sell" }),
      row({ quantity: "11" }),
      row({ price: "69900" }),
    ];
    expect(matchingOrders(rows, terms, sentAt, new Set())).toEqual([]);
  });

  it("leaves out order numbers already bound to another intent", () => {
    expect(matchingOrders([row({})], terms, sentAt, new Set(["0000000001"]))).toEqual([]);
  });
});

import { describe, expect, it } from "vitest";
import {
  accountsPerWorker,
  parseRefreshWorker,
  refreshWorkersNeeded,
  workerOrder,
} from "../../core/tokens";

describe("refresh fan-out plan", () => {
  it("a lone worker keeps the due order", () => {
    expect(workerOrder([5, 3, 9, 1], { index: 0, count: 1 })).toEqual([5, 3, 9, 1]);
  });

  it("a worker takes its own stripe most urgent first, then the others from the least urgent end", () => {
    const due = [10, 11, 12, 13, 14, 15, 16, 17];
    expect(workerOrder(due, { index: 1, count: 4 })).toEqual([13, 17, 16, 15, 14, 12, 11, 10]);
    expect(workerOrder(due, { index: 0, count: 2 })).toEqual([10, 12, 14, 16, 17, 15, 13, 11]);
  });

  it("every worker's order holds every due account exactly once", () => {
    const due = Array.from({ length: 101 }, (_, i) => 1000 - i * 7);
    for (let index = 0; index < 3; index++) {
      const order = workerOrder(due, { index, count: 3 });
      expect([...order].sort((a, b) => a - b)).toEqual([...due].sort((a, b) => a - b));
    }
  });

  it("sizes one worker by its lanes, its budget and the time per account", () => {
    // 8 lanes × 270 s / 0.3 s per account
    expect(accountsPerWorker({ concurrency: 8, timeBudgetMs: 270_000, accountMs: 300 })).toBe(7200);
    expect(accountsPerWorker({ concurrency: 1, timeBudgetMs: 100, accountMs: 300 })).toBe(1);
    expect(() => accountsPerWorker({ concurrency: 1, timeBudgetMs: 1, accountMs: 0 })).toThrow(
      /positive/,
    );
  });

  it("starts enough workers for the due accounts, at least one and never more than allowed", () => {
    expect(refreshWorkersNeeded(0, 7200, 10)).toBe(1);
    expect(refreshWorkersNeeded(7200, 7200, 10)).toBe(1);
    expect(refreshWorkersNeeded(7201, 7200, 10)).toBe(2);
    expect(refreshWorkersNeeded(100_000, 7200, 10)).toBe(10);
    expect(refreshWorkersNeeded(1_000_000, 7200, 10)).toBe(10);
    expect(() => refreshWorkersNeeded(1, 1, 0)).toThrow(/at least 1/);
  });

  it("names a bad worker in one sentence", () => {
    expect(parseRefreshWorker({ index: 3, count: 4 })).toEqual({ index: 3, count: 4 });
    expect(() => parseRefreshWorker({ index: 4, count: 4 })).toThrow(/index .* from 0 to 3/);
    expect(() => parseRefreshWorker({ index: 0, count: 0 })).toThrow(/count .* from 1 to 64/);
    expect(() => parseRefreshWorker("0/4")).toThrow(/count/);
  });
});

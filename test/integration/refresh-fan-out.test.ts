import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { createSql, type Sql } from "../../core/db";
import {
  type RefreshSummary,
  type RefreshWorker,
  refreshDueTokens,
  runScheduledRefresh,
} from "../../core/tokens";
import { lambdaWorkerStarter } from "../../core/tokens/lambda-workers";
import type { TestCipher } from "../support/crypto";
import type { TestDatabase } from "../support/database";
import type { TestBrokerSandbox } from "../support/sandbox";
import {
  type OffsetClock,
  securitiesAccount,
  tokenService,
  useTokenTestBed,
} from "../support/tokens";

let db: TestDatabase;
let broker: TestBrokerSandbox;
let clock: OffsetClock;
let crypto: TestCipher;

useTokenTestBed((bed) => {
  ({ db, clock, broker, crypto } = bed);
});
beforeEach(async () => {
  broker.sandbox.resetStats();
  broker.sandbox.configure({ errorRate: 0, latencyMs: 20, failNext: [] });
  await db.sql`DELETE FROM accounts`;
  clock.advance(120_000);
});

describe("scheduled refresh fan-out", () => {
  it("starts enough workers for the due accounts, and together they issue each account once", async () => {
    for (let i = 0; i < 40; i++) await securitiesAccount(db.sql, crypto.cipher);
    // Each worker its own pool and service, as separate Lambda containers would be.
    const pools: Sql[] = [];
    const runs: Promise<RefreshSummary>[] = [];
    const started: RefreshWorker[] = [];
    const workerService = (sql: Sql) =>
      tokenService({
        sql,
        cipher: crypto.cipher,
        brokers: broker.registry(),
        clock,
        settings: { refreshConcurrency: 2, refreshTimeBudgetMs: 10_000 },
      });
    try {
      const summary = await runScheduledRefresh(
        {
          sql: db.sql,
          tokens: workerService(db.sql),
          clock,
          startWorker: async (worker) => {
            started.push(worker);
            const sql = createSql(db.url, { max: 4 });
            pools.push(sql);
            runs.push(refreshDueTokens({ sql, tokens: workerService(sql), clock }, { worker }));
          },
        },
        // 2 lanes × 10 s / 1,000 ms = 20 accounts per worker: 40 due need 2; at most 4.
        { maxWorkers: 4, accountMs: 1_000 },
      );
      const workers = await Promise.all(runs);
      expect(summary).toMatchObject({ dueAtStart: 40, workers: 2, workersNotStarted: 0 });
      expect(started).toEqual([{ index: 1, count: 2 }]);
      const issued = [summary, ...workers].reduce((n, s) => n + s.issued, 0);
      expect(issued).toBe(40);
      expect(workers[0]?.issued).toBeGreaterThan(0);
      expect(summary.issued).toBeGreaterThan(0);
      const stats = broker.sandbox.stats();
      expect(stats.issued.total).toBe(40);
      expect(Object.values(stats.issued.byAppKey).every((n) => n === 1)).toBe(true);
      expect(stats.rejections.byCode.EGW00133).toBeUndefined();
    } finally {
      await Promise.all(pools.map((sql) => sql.end()));
    }
  });

  it("never starts more runs than allowed, and does the work alone when a worker cannot start", async () => {
    for (let i = 0; i < 12; i++) await securitiesAccount(db.sql, crypto.cipher);
    const tokens = tokenService({
      sql: db.sql,
      cipher: crypto.cipher,
      brokers: broker.registry(),
      clock,
      settings: { refreshConcurrency: 4, refreshTimeBudgetMs: 1_000 },
    });
    const asked: RefreshWorker[] = [];
    const summary = await runScheduledRefresh(
      {
        sql: db.sql,
        tokens,
        clock,
        startWorker: async (worker) => {
          asked.push(worker);
          throw new Error("throttled");
        },
      },
      // 4 lanes × 1 s / 1 s = 4 per worker: 12 due would need 3, capped at 2.
      { maxWorkers: 2, accountMs: 1_000 },
    );
    expect(asked).toEqual([{ index: 1, count: 2 }]);
    expect(summary).toMatchObject({ dueAtStart: 12, workers: 2, workersNotStarted: 1 });
    // Worker 0 took its own stripe, then the missing worker's, from the other end.
    expect(summary.issued + summary.notStarted).toBe(12);
    expect(summary.issued).toBeGreaterThan(0);
  });

  it("runs alone without a worker function", async () => {
    for (let i = 0; i < 3; i++) await securitiesAccount(db.sql, crypto.cipher);
    const tokens = tokenService({
      sql: db.sql,
      cipher: crypto.cipher,
      brokers: broker.registry(),
      clock,
    });
    const summary = await runScheduledRefresh(
      { sql: db.sql, tokens, clock },
      { maxWorkers: 8, accountMs: 1 },
    );
    expect(summary).toMatchObject({ workers: 1, worker: "0/1", issued: 3 });
  });
});

describe("Lambda worker starter", () => {
  const lambda = mockClient(LambdaClient);
  beforeEach(() => lambda.reset());

  it("queues one asynchronous invoke of the worker function with the worker in its payload", async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
    await lambdaWorkerStarter(new LambdaClient({}), "refresh-worker")({ index: 2, count: 3 });
    const calls = lambda.commandCalls(InvokeCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]?.args[0].input;
    expect(input?.FunctionName).toBe("refresh-worker");
    expect(input?.InvocationType).toBe("Event");
    expect(JSON.parse(new TextDecoder().decode(input?.Payload as Uint8Array))).toEqual({
      worker: { index: 2, count: 3 },
    });
  });

  it("fails when Lambda does not queue the invoke", async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 200 });
    await expect(
      lambdaWorkerStarter(new LambdaClient({}), "refresh-worker")({ index: 1, count: 2 }),
    ).rejects.toThrow(/did not queue refresh worker 1\/2/);
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  apiThrottle,
  connectionBudget,
  connectionsOf,
  INSTANCE_MEMORY_GIB,
  maxConnectionsFor,
} from "../../infra/connections";
import { functionEnvironment } from "../../infra/runtime";
import { connectionBudgetOf, parseInfraSettings } from "../../infra/settings";

const resources = {
  dbHost: "db.internal",
  proxyHost: "proxy.internal",
  dbPort: "5432",
  dbName: "securities",
  dbSecretArn: "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:rds!db",
  dbInstanceId: "database-abc",
  kmsKeyArn: "arn:aws:kms:ap-northeast-2:123456789012:key/k-1",
  apiKeysSecretArn: "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:api-keys",
};

describe("max_connections per instance class", () => {
  it("follows RDS's LEAST(DBInstanceClassMemory / 9531392, 5000), with 300 MiB kept by RDS", () => {
    expect(maxConnectionsFor("db.t4g.micro")).toBe(79);
    expect(maxConnectionsFor("db.t4g.small")).toBe(192);
    expect(maxConnectionsFor("db.t4g.medium")).toBe(417);
    expect(maxConnectionsFor("db.m7g.large")).toBe(868);
    expect(maxConnectionsFor("db.r7g.4xlarge")).toBe(5000);
  });

  it("names the setting when the class is unknown", () => {
    expect(() => maxConnectionsFor("db.x9.huge")).toThrow(
      /DB_INSTANCE_CLASS db\.x9\.huge .*DB_MAX_CONNECTIONS/,
    );
  });
});

/** The API defaults: at most 100 containers, 100 ms mean latency, 20 ms of it on a server connection. */
const API_DEFAULTS = { apiMaxConcurrency: 100, apiMeanLatencyMs: 100, apiDbMs: 20 };

describe("connection budget", () => {
  it("splits the default db.t4g.micro: 8 held back, migrate 1, refresh 4 runs × 10 direct, the proxy the rest", () => {
    const budget = connectionBudget({
      maxConnections: 79,
      refreshConcurrency: 8,
      refreshWorkers: 4,
      ...API_DEFAULTS,
    });
    expect(budget).toEqual({
      maxConnections: 79,
      headroom: 8,
      migrate: { reservedConcurrency: 1, poolMax: 1 },
      refreshScheduler: { reservedConcurrency: 1, poolMax: 10 },
      refreshWorkers: { reservedConcurrency: 3, poolMax: 10 },
      // 30 left of 79: 37% is 29 connections.
      proxy: { maxConnectionsPercent: 37, connections: 29 },
      // 29 connections × 100 ms / 20 ms = 145 containers' worth, capped at API_MAX_CONCURRENCY.
      api: { reservedConcurrency: 100, poolMax: 2 },
      total: 78,
    });
  });

  it("no longer cuts the API's containers from max_connections: the micro carries 100, not 15", () => {
    const budget = connectionBudget({
      maxConnections: 79,
      refreshConcurrency: 8,
      refreshWorkers: 4,
      ...API_DEFAULTS,
      apiMaxConcurrency: 1000,
    });
    expect(budget.api.reservedConcurrency).toBe(145);
    expect(budget.total).toBeLessThanOrEqual(79);
  });

  it("bounds the API by what the proxy's connections carry when a request holds one longer", () => {
    const budget = connectionBudget({
      maxConnections: 79,
      refreshConcurrency: 8,
      refreshWorkers: 4,
      ...API_DEFAULTS,
      apiDbMs: 50,
    });
    expect(budget.api.reservedConcurrency).toBe(58);
  });

  it("refuses an API_DB_MS longer than the mean latency it is part of", () => {
    expect(() =>
      connectionBudget({
        maxConnections: 79,
        refreshConcurrency: 8,
        refreshWorkers: 4,
        ...API_DEFAULTS,
        apiDbMs: 150,
      }),
    ).toThrow("API_DB_MS (150) must be positive and at most API_MEAN_LATENCY_MS (100).");
  });

  it("never adds up to more than max_connections, whatever the instance, refresh and API settings", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 25, max: 5000 }),
        fc.integer({ min: 1, max: 32 }),
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 2, max: 10_000 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 1000 }),
        (maxConnections, refreshConcurrency, refreshWorkers, apiMaxConcurrency, a, b) => {
          const [apiDbMs, apiMeanLatencyMs] = a <= b ? [a, b] : [b, a];
          let budget: ReturnType<typeof connectionBudget>;
          try {
            budget = connectionBudget({
              maxConnections,
              refreshConcurrency,
              refreshWorkers,
              apiMaxConcurrency,
              apiMeanLatencyMs,
              apiDbMs,
            });
          } catch (error) {
            // Refused only when the proxy or the API would get fewer than 2.
            expect(String(error)).toMatch(/larger DB_INSTANCE_CLASS/);
            const fixed = 8 + 1 + refreshWorkers * (refreshConcurrency + 2);
            const proxy = Math.floor(
              (maxConnections *
                Math.max(0, Math.floor((100 * (maxConnections - fixed)) / maxConnections))) /
                100,
            );
            expect(Math.min(proxy, Math.floor((proxy * apiMeanLatencyMs) / apiDbMs))).toBeLessThan(
              2,
            );
            return;
          }
          const sum =
            budget.headroom +
            connectionsOf(budget.migrate) +
            connectionsOf(budget.refreshScheduler) +
            connectionsOf(budget.refreshWorkers) +
            budget.proxy.connections;
          expect(sum).toBe(budget.total);
          expect(sum).toBeLessThanOrEqual(maxConnections);
          // The proxy's share is what the direct connections leave, to within 1% of max_connections.
          expect(maxConnections - sum).toBeLessThanOrEqual(Math.ceil(maxConnections / 100) + 1);
          expect(budget.api.reservedConcurrency).toBeLessThanOrEqual(apiMaxConcurrency);
          // A container holds a server connection apiDbMs of every apiMeanLatencyMs.
          expect(budget.api.reservedConcurrency * apiDbMs).toBeLessThanOrEqual(
            budget.proxy.connections * apiMeanLatencyMs,
          );
        },
      ),
    );
  });

  it("refuses an instance too small for the refresh settings in one sentence", () => {
    expect(() =>
      parseInfraSettings("dev", { REFRESH_MAX_WORKERS: "8", REFRESH_CONCURRENCY: "8" }),
    ).toThrow(
      "max_connections 79 leaves 0 connections for RDS Proxy (0 API containers) after 8 refresh runs of 8 lanes; choose a larger DB_INSTANCE_CLASS or fewer REFRESH_MAX_WORKERS / REFRESH_CONCURRENCY.",
    );
  });

  it("covers every known class at the default settings", () => {
    for (const instanceClass of Object.keys(INSTANCE_MEMORY_GIB)) {
      const settings = parseInfraSettings("prod", { DB_INSTANCE_CLASS: instanceClass });
      const budget = connectionBudgetOf(settings);
      expect(budget.total).toBeLessThanOrEqual(settings.database.maxConnections);
      expect(budget.api.reservedConcurrency).toBeGreaterThanOrEqual(2);
    }
  });

  it("honours DB_MAX_CONNECTIONS over the class's default", () => {
    const settings = parseInfraSettings("dev", { DB_MAX_CONNECTIONS: "200" });
    expect(settings.database.maxConnections).toBe(200);
    expect(connectionBudgetOf(settings).proxy).toEqual({
      maxConnectionsPercent: 75,
      connections: 150,
    });
  });

  it("gives each function the pool size its reserved concurrency was budgeted with", () => {
    const settings = parseInfraSettings("prod", {
      DB_INSTANCE_CLASS: "db.t4g.medium",
      REFRESH_CONCURRENCY: "12",
    });
    expect(functionEnvironment("refresh", settings, resources).DB_POOL_MAX).toBe("14");
    expect(functionEnvironment("api", settings, resources).DB_POOL_MAX).toBe("2");
    expect(functionEnvironment("refresh", settings, resources).REFRESH_MAX_WORKERS).toBe("4");
    expect(functionEnvironment("migrate", settings, resources).DB_POOL_MAX).toBeUndefined();
  });
});

describe("API stage throttle", () => {
  it("bursts no further than the API's containers, and paces at what they serve at the mean latency", () => {
    expect(apiThrottle(15, 100)).toEqual({ burstLimit: 15, rateLimit: 150 });
    expect(apiThrottle(200, 250)).toEqual({ burstLimit: 200, rateLimit: 800 });
    expect(() => apiThrottle(2, 0)).toThrow(/API_MEAN_LATENCY_MS/);
  });
});

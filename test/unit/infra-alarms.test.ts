import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { BROKERS } from "../../core/brokers";
import { METRIC } from "../../core/metrics";
import {
  type AlarmPlan,
  API_KEYS_STALE_METRIC,
  alarmDescription,
  alarmPlans,
  RUNBOOK,
  type WatchedMetric,
} from "../../infra/alarm-rules";
import { dashboardBody } from "../../infra/dashboard-layout";
import { parseInfraSettings } from "../../infra/settings";

const settings = parseInfraSettings("production", {});
const plans = alarmPlans(settings);
const byName = new Map(plans.map((plan) => [plan.name, plan]));

/** GitHub's anchor of a Markdown heading. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\w\- ]/g, "")
    .replace(/ /g, "-");
}

function watched(plan: AlarmPlan): WatchedMetric[] {
  return "metric" in plan.watch ? [plan.watch.metric] : Object.values(plan.watch.metrics);
}

describe("alarms", () => {
  it("cover what the issues list: API 5xx and p99, each function's errors and throttles, the database, migrations, the gateway, tokens, the hub", () => {
    expect([...byName.keys()].sort()).toEqual(
      [
        "Api5xxRate",
        "ApiErrors",
        "ApiKeysStale",
        "ApiLatencyP99",
        "ApiThrottles",
        "DatabaseConnectionsHigh",
        "DatabaseCpuHigh",
        "DatabaseFreeStorageLow",
        "GatewayKisRateLimited",
        "GatewayKiwoomRateLimited",
        "HubCapReached",
        "HubCatchUpFailing",
        "HubSessionDown",
        "HubSessionKicked",
        "MigrateErrors",
        "MigrateFailed",
        "MigrateThrottles",
        "OrdersAmbiguous",
        "OrdersUnknownStale",
        "RefreshDeadLetters",
        "RefreshErrors",
        "RefreshThrottles",
        "TokensExpiringUnrefreshed",
      ].sort(),
    );
  });

  it("the hub's session alarm fires only after two whole minutes of a session not up", () => {
    const down = byName.get("HubSessionDown");
    expect(down).toMatchObject({
      periodSeconds: 60,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      statistic: "Minimum",
      threshold: 1,
    });
  });

  it("each description names a runbook entry that exists in docs/operations.md", async () => {
    const runbook = await readFile(RUNBOOK, "utf8");
    const anchors = new Set(
      runbook
        .split("\n")
        .filter((line) => line.startsWith("#"))
        .map((line) => anchor(line.replace(/^#+/, ""))),
    );
    for (const plan of plans) {
      const description = alarmDescription(plan);
      expect(description).toMatch(new RegExp(`Runbook: docs/operations\\.md#${plan.runbook}$`));
      expect(description.length).toBeLessThanOrEqual(1024);
      expect(anchors.has(plan.runbook), `${plan.name} → #${plan.runbook}`).toBe(true);
    }
  });

  it("every custom metric an alarm watches is one the code writes, under a dimension value it writes", () => {
    const written = new Set<string>([...Object.values(METRIC), API_KEYS_STALE_METRIC]);
    for (const metric of plans.flatMap(watched)) {
      if (!metric.namespace.startsWith("SecuritiesSupport/")) continue;
      expect(metric.namespace).toBe("SecuritiesSupport/production");
      expect(written.has(metric.metricName), metric.metricName).toBe(true);
    }
    expect(watched(byName.get("MigrateFailed") as AlarmPlan)[0]?.dimensions).toEqual({
      Outcome: { value: "failed" },
    });
    expect(
      ["GatewayKisRateLimited", "GatewayKiwoomRateLimited"].map(
        (name) => watched(byName.get(name) as AlarmPlan)[0]?.dimensions?.Broker,
      ),
    ).toEqual(BROKERS.map((broker) => ({ value: broker })));
  });

  it("the 5xx alarm is a share of requests, not a count", () => {
    const plan = byName.get("Api5xxRate") as AlarmPlan;
    expect(plan.watch).toMatchObject({
      expression: "IF(requests > 0, 100 * errors / requests, 0)",
      metrics: {
        errors: { namespace: "AWS/ApiGateway", metricName: "5xx", dimensions: { ApiId: "apiId" } },
        requests: { namespace: "AWS/ApiGateway", metricName: "Count" },
      },
    });
    expect(plan).toMatchObject({ threshold: 5, comparison: "GreaterThanThreshold" });
  });

  it("database thresholds follow the instance: 80% of its max_connections, 10% of its storage ceiling", () => {
    expect(settings.database.maxConnections).toBe(79);
    expect(byName.get("DatabaseConnectionsHigh")?.threshold).toBe(63);
    expect(byName.get("DatabaseFreeStorageLow")).toMatchObject({
      comparison: "LessThanThreshold",
      threshold: 10 * 1024 ** 3,
    });
    const bigger = alarmPlans(
      parseInfraSettings("production", {
        DB_INSTANCE_CLASS: "db.m7g.xlarge",
        DB_MAX_STORAGE_GB: "500",
      }),
    );
    expect(bigger.find((plan) => plan.name === "DatabaseConnectionsHigh")?.threshold).toBe(1415);
    const fixed = alarmPlans(parseInfraSettings("production", { DB_MAX_CONNECTIONS: "200" }));
    expect(fixed.find((plan) => plan.name === "DatabaseConnectionsHigh")?.threshold).toBe(160);
    expect(bigger.find((plan) => plan.name === "DatabaseFreeStorageLow")?.threshold).toBe(
      50 * 1024 ** 3,
    );
  });

  it("silence breaches only the token alarm: no refresh run reporting is trouble", () => {
    expect(
      plans.filter((plan) => plan.treatMissingData === "breaching").map((p) => p.name),
    ).toEqual(["TokensExpiringUnrefreshed"]);
  });
});

describe("the dashboard", () => {
  const body = dashboardBody({
    region: "ap-northeast-2",
    stage: "production",
    apiId: "a1b2c3",
    functionNames: { api: "api-fn", refresh: "refresh-fn", migrate: "migrate-fn" },
    databaseInstanceId: "db-1",
  });
  const graphs = body.widgets.filter((widget) => widget.type === "metric");
  const text = JSON.stringify(body);

  it("has a graph for each thing the issue lists", () => {
    const titles = graphs.map((widget) => String(widget.properties.title)).join(" | ");
    for (const topic of [
      /Token states/,
      /Refresh outcomes/,
      /Gateway calls by broker and answer/,
      /Broker errors/,
      /API requests, 4xx and 5xx/,
      /API latency/,
      /Lambda errors and throttles/,
      /Database connections/,
      /CPU .* free storage/,
    ]) {
      expect(titles).toMatch(topic);
    }
  });

  it("points at the deployed names and every function, in the stage's namespace", () => {
    for (const name of [
      "a1b2c3",
      "api-fn",
      "refresh-fn",
      "migrate-fn",
      "db-1",
      "SecuritiesSupport/production",
    ]) {
      expect(text).toContain(name);
    }
    for (const widget of graphs) expect(widget.properties.region).toBe("ap-northeast-2");
  });

  it("graphs only metrics the code writes", () => {
    const written = new Set<string>(Object.values(METRIC));
    const custom = graphs
      .flatMap((widget) => widget.properties.metrics as unknown[][])
      .flatMap((line) =>
        line[0] === "SecuritiesSupport/production"
          ? [String(line[1])]
          : typeof line[0] === "object" && line[0] !== null
            ? [
                ...String((line[0] as { expression: string }).expression).matchAll(
                  /MetricName="(\w+)"/g,
                ),
              ].map((m) => m[1] as string)
            : [],
      );
    expect(custom.length).toBeGreaterThan(10);
    for (const name of custom) expect(written.has(name), name).toBe(true);
  });

  it("lays widgets out without overlap, within CloudWatch's 24-column grid", () => {
    const cells = new Set<string>();
    for (const widget of body.widgets) {
      expect(widget.x + widget.width).toBeLessThanOrEqual(24);
      for (let x = widget.x; x < widget.x + widget.width; x++) {
        for (let y = widget.y; y < widget.y + widget.height; y++) {
          const cell = `${x},${y}`;
          expect(cells.has(cell), cell).toBe(false);
          cells.add(cell);
        }
      }
    }
  });
});

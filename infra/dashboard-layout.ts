/**
 * The CloudWatch dashboard's body as a plain value (infra/dashboard.ts
 * creates it with the deployed names filled in): token health and refresh
 * outcomes from the refresh job's EMF metrics, gateway traffic and broker
 * answers, the API's 4xx/5xx and latency, the functions' errors and
 * throttles, and the database.
 */
import { METRIC, metricNamespace } from "../core/metrics";

/** The deployed names the widgets point at. */
export interface DashboardTargets {
  region: string;
  stage: string;
  apiId: string;
  functionNames: { api: string; refresh: string; migrate: string };
  databaseInstanceId: string;
}

type MetricLine = (string | Record<string, unknown>)[];

interface Widget {
  type: "metric" | "text";
  x: number;
  y: number;
  width: number;
  height: number;
  properties: Record<string, unknown>;
}

const TOKEN_STATES = ["valid", "expiring", "failing", "rejected", "expired", "missing"] as const;

/** The dashboard body (JSON once stringified), widgets laid out two per row. */
export function dashboardBody(targets: DashboardTargets): { widgets: Widget[] } {
  const ns = metricNamespace(targets.stage);
  const search = (metric: string, dimensions: string[], stat: string) => ({
    expression: `SEARCH('{${[ns, ...dimensions].join(",")}} MetricName="${metric}"', '${stat}', 300)`,
    id: `${metric.toLowerCase()}${dimensions.length}`,
    label: "",
  });
  const fns = Object.entries(targets.functionNames);
  const db = ["DBInstanceIdentifier", targets.databaseInstanceId];
  const api = ["ApiId", targets.apiId];

  const graphs: { title: string; metrics: MetricLine[]; stat?: string; period?: number }[] = [
    {
      title: "Token states (after each refresh run)",
      metrics: TOKEN_STATES.map((state) => [ns, METRIC.tokens, "State", state]),
      stat: "Maximum",
      period: 600,
    },
    {
      title: "Refresh outcomes per run",
      metrics: [
        [ns, METRIC.refreshIssued],
        [ns, METRIC.refreshFailed],
        [ns, METRIC.refreshDeferred],
        [ns, METRIC.tokensExpiringUnrefreshed, { stat: "Maximum" }],
      ],
      stat: "Sum",
      period: 600,
    },
    {
      title: "Refresh run duration (ms)",
      metrics: [[ns, METRIC.refreshDuration, { stat: "Maximum" }]],
      period: 600,
    },
    {
      title: "Token reads (count, p99 ms)",
      metrics: [
        [ns, METRIC.tokenReads, "Outcome", "ok", { stat: "Sum" }],
        [ns, METRIC.tokenReads, "Outcome", "error", { stat: "Sum" }],
        [ns, METRIC.tokenReadLatency, "Outcome", "ok", { stat: "p99", yAxis: "right" }],
      ],
    },
    {
      title: "Gateway calls by broker and answer",
      metrics: [[search(METRIC.gatewayCalls, ["Answer", "Broker"], "Sum")]],
    },
    {
      title: "Gateway latency p99 and paced waits, by broker",
      metrics: [
        [search(METRIC.gatewayLatency, ["Broker"], "p99")],
        [search(METRIC.gatewayPacedWaits, ["Broker"], "Sum")],
      ],
    },
    {
      title: "Broker errors: rate-limited answers by broker",
      metrics: [[search(METRIC.gatewayRateLimited, ["Broker"], "Sum")]],
    },
    {
      title: "API requests, 4xx and 5xx",
      metrics: [
        ["AWS/ApiGateway", "Count", ...api],
        ["AWS/ApiGateway", "4xx", ...api],
        ["AWS/ApiGateway", "5xx", ...api],
      ],
      stat: "Sum",
    },
    {
      title: "API latency (ms)",
      metrics: [
        ["AWS/ApiGateway", "Latency", ...api, { stat: "p50" }],
        ["AWS/ApiGateway", "Latency", ...api, { stat: "p99" }],
        ["AWS/ApiGateway", "IntegrationLatency", ...api, { stat: "p99" }],
      ],
    },
    {
      title: "Lambda errors and throttles",
      metrics: fns.flatMap(([label, name]) => [
        ["AWS/Lambda", "Errors", "FunctionName", name, { label: `${label} errors` }],
        ["AWS/Lambda", "Throttles", "FunctionName", name, { label: `${label} throttles` }],
      ]),
      stat: "Sum",
    },
    {
      title: "Database connections",
      metrics: [["AWS/RDS", "DatabaseConnections", ...db]],
      stat: "Maximum",
    },
    {
      title: "Database CPU (%) and free storage (bytes)",
      metrics: [
        ["AWS/RDS", "CPUUtilization", ...db, { stat: "Average" }],
        ["AWS/RDS", "FreeStorageSpace", ...db, { stat: "Minimum", yAxis: "right" }],
      ],
    },
  ];

  const widgets: Widget[] = [
    {
      type: "text",
      x: 0,
      y: 0,
      width: 24,
      height: 2,
      properties: {
        markdown: `## securities-support (${targets.stage})\nEvery alarm names its runbook entry in docs/operations.md.`,
      },
    },
  ];
  graphs.forEach((graph, index) => {
    widgets.push({
      type: "metric",
      x: (index % 2) * 12,
      y: 2 + Math.floor(index / 2) * 6,
      width: 12,
      height: 6,
      properties: {
        title: graph.title,
        region: targets.region,
        view: "timeSeries",
        stacked: false,
        metrics: graph.metrics,
        stat: graph.stat ?? "Sum",
        period: graph.period ?? 300,
      },
    });
  });
  return { widgets };
}

/**
 * Metrics as CloudWatch embedded metric format (EMF) lines: one JSON object on
 * standard output that Lambda's log ingestion turns into metrics, with no
 * PutMetricData call and no agent.
 *
 * Written by hand: the format is one documented JSON shape, and the
 * Powertools metrics package would add its runtime and a dependency on its
 * logger for it. The metric names live here, once, for the code that writes them
 * and for the dashboard and alarms in infra/ that read them.
 */

/** Where EMF lines go: standard output in a function, a buffer in a test. */
export interface MetricDestination {
  write(line: string): unknown;
}

export type MetricUnit = "Count" | "Milliseconds" | "None";

/** A value in Count, or a value with its unit. */
export type MetricValue = number | { value: number; unit: MetricUnit };

export interface Metrics {
  /**
   * Writes one EMF document: every metric of `values` under one dimension set
   * (`dimensions`, added to the sink's own), plus `properties` as searchable
   * fields that are not dimensions.
   */
  put(
    values: Record<string, MetricValue>,
    dimensions?: Record<string, string>,
    properties?: Record<string, unknown>,
  ): void;
}

/** The namespace of a stage's metrics: custom ones and log-derived ones alike. */
export function metricNamespace(stage: string): string {
  return `SecuritiesSupport/${stage}`;
}

/** Every metric the service writes, by name, with the dimensions each is written under. */
export const METRIC = {
  /** Refresh run summary (no dimension). */
  refreshIssued: "RefreshIssued",
  refreshFailed: "RefreshFailed",
  refreshDeferred: "RefreshDeferred",
  refreshDuration: "RefreshDuration",
  /** Active securities accounts whose token is missing or expires within the hour after a run. */
  tokensExpiringUnrefreshed: "TokensExpiringUnrefreshed",
  /** Securities accounts per token state after a run; dimension `State`. */
  tokens: "Tokens",
  /** Token reads (API and gateway); dimension `Outcome` (`ok`, `error`). */
  tokenReads: "TokenReads",
  tokenReadLatency: "TokenReadLatency",
  /** Broker calls through the gateway; dimensions `Broker`, `Answer` (HTTP status or broker code). */
  gatewayCalls: "GatewayCalls",
  /** Per broker (dimension `Broker`): latency, calls that waited for the pace, answers that said too many. */
  gatewayLatency: "GatewayLatency",
  gatewayPacedWaits: "GatewayPacedWaits",
  gatewayPacedWaitTime: "GatewayPacedWaitTime",
  gatewayRateLimited: "GatewayRateLimited",
  /** Order intents after the refresh job's reconciliation: ambiguous ones, and the oldest unknown's age. */
  ordersAmbiguous: "OrdersAmbiguous",
  ordersUnknownOldestAge: "OrdersUnknownOldestAge",
  /** Migrate function runs; dimension `Outcome` (`ok`, `failed`). */
  migrations: "MigrationRuns",
  /** The realtime hub, every minute: leased broker sessions up and not up (gauges). */
  hubSessionsUp: "HubSessionsUp",
  hubSessionsDown: "HubSessionsDown",
  /** Reconnects, and sessions refused or kicked for another on the same app key (OPSP8996, R10001). */
  hubReconnects: "HubReconnects",
  hubSessionConflicts: "HubSessionConflicts",
  /** Broker registrations held (gauge) and subscriptions refused at the KIS cap of 41. */
  hubRegistrations: "HubRegistrations",
  hubCapRefusals: "HubCapRefusals",
  /** Clients connected (gauge), frames from the brokers and to clients, slow clients dropped. */
  hubClients: "HubClients",
  hubFramesIn: "HubFramesIn",
  hubFramesOut: "HubFramesOut",
  hubSlowClientsDropped: "HubSlowClientsDropped",
  /** Receipt of a notice to its fan-out, stored first (ms). */
  hubNoticeLag: "HubNoticeLag",
  /**
   * Fills stored from the day orders after an outage (no notice had told
   * them), and catch-ups that could not read the day orders (each retried).
   */
  hubNoticesCaughtUp: "HubNoticesCaughtUp",
  hubCatchUpFailures: "HubCatchUpFailures",
} as const;

export interface MetricsOptions {
  namespace: string;
  /** Standard output when omitted. */
  destination?: MetricDestination;
  /** Dimensions of every document (e.g. none: the namespace already names the stage). */
  dimensions?: Record<string, string>;
  now?: () => number;
}

/** Creates a metrics sink that writes EMF lines. */
export function createMetrics(options: MetricsOptions): Metrics {
  const destination = options.destination ?? process.stdout;
  const base = options.dimensions ?? {};
  const now = options.now ?? Date.now;
  return {
    put(values, dimensions = {}, properties = {}) {
      const names = Object.keys(values);
      if (names.length === 0) return;
      const allDimensions = { ...base, ...dimensions };
      const document: Record<string, unknown> = {
        _aws: {
          Timestamp: now(),
          CloudWatchMetrics: [
            {
              Namespace: options.namespace,
              Dimensions: [Object.keys(allDimensions)],
              Metrics: names.map((name) => ({ Name: name, Unit: unitOf(values[name]) })),
            },
          ],
        },
        ...properties,
        ...allDimensions,
      };
      for (const name of names) document[name] = numberOf(values[name]);
      destination.write(`${JSON.stringify(document)}\n`);
    },
  };
}

/** A sink that writes nothing, for code paths and tests that measure nothing. */
export const noMetrics: Metrics = { put: () => {} };

function unitOf(value: MetricValue | undefined): MetricUnit {
  return typeof value === "object" ? value.unit : "Count";
}

function numberOf(value: MetricValue | undefined): number {
  return typeof value === "object" ? value.value : (value ?? 0);
}

const ms = (value: number): MetricValue => ({
  value: Math.round(value * 10) / 10,
  unit: "Milliseconds",
});

/** What a refresh run reports (core/tokens' summary, in its own words). */
export interface RefreshRunMetrics {
  issued: number;
  failed: number;
  deferred: number;
  expiringUnrefreshed: number;
  durationMs: number;
  /** Securities accounts per token state, when the run counted them. */
  states?: Record<string, number>;
}

/** One document for the run's outcome, then one per token state. */
export function recordRefreshRun(metrics: Metrics, run: RefreshRunMetrics): void {
  metrics.put({
    [METRIC.refreshIssued]: run.issued,
    [METRIC.refreshFailed]: run.failed,
    [METRIC.refreshDeferred]: run.deferred,
    [METRIC.tokensExpiringUnrefreshed]: run.expiringUnrefreshed,
    [METRIC.refreshDuration]: ms(run.durationMs),
  });
  for (const [state, count] of Object.entries(run.states ?? {})) {
    metrics.put({ [METRIC.tokens]: count }, { State: state });
  }
}

/** One token read: whether it answered a token, and how long it took. */
export function recordTokenRead(metrics: Metrics, read: { ok: boolean; latencyMs: number }): void {
  metrics.put(
    { [METRIC.tokenReads]: 1, [METRIC.tokenReadLatency]: ms(read.latencyMs) },
    { Outcome: read.ok ? "ok" : "error" },
  );
}

/** One broker call through the gateway, as the gateway saw it. */
export interface GatewayCallMetrics {
  broker: string;
  /** HTTP status of the broker's answer; 0 when none came (timeout, refused). */
  status: number;
  /** The broker's own code when it reported an error (EGW00201, 1700…). */
  brokerCode?: string | undefined;
  latencyMs: number;
  /** How long the call waited for its app key's pace before it was sent. */
  pacedWaitMs: number;
  /** The broker said too many calls (HTTP 429, KIS EGW00201, Kiwoom 1700). */
  rateLimited: boolean;
}

/** The answer code a call is counted under: the broker's code when it gave one, else the status. */
export function gatewayAnswerCode(call: Pick<GatewayCallMetrics, "status" | "brokerCode">): string {
  return call.brokerCode ?? (call.status === 0 ? "unreachable" : String(call.status));
}

/** Two documents: the call's count by broker and answer, then its per-broker timings and flags. */
export function recordGatewayCall(metrics: Metrics, call: GatewayCallMetrics): void {
  metrics.put(
    { [METRIC.gatewayCalls]: 1 },
    { Broker: call.broker, Answer: gatewayAnswerCode(call) },
  );
  metrics.put(
    {
      [METRIC.gatewayLatency]: ms(call.latencyMs),
      [METRIC.gatewayPacedWaits]: call.pacedWaitMs > 0 ? 1 : 0,
      [METRIC.gatewayPacedWaitTime]: ms(call.pacedWaitMs),
      [METRIC.gatewayRateLimited]: call.rateLimited ? 1 : 0,
    },
    { Broker: call.broker },
  );
}

/** One migrate invocation's outcome (the alarm watches `failed`). */
export function recordMigration(metrics: Metrics, run: { ok: boolean; action: string }): void {
  metrics.put(
    { [METRIC.migrations]: 1 },
    { Outcome: run.ok ? "ok" : "failed" },
    { action: run.action },
  );
}

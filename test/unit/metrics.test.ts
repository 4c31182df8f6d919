import { describe, expect, it } from "vitest";
import {
  createMetrics,
  gatewayAnswerCode,
  METRIC,
  metricNamespace,
  recordGatewayCall,
  recordMigration,
  recordRefreshRun,
  recordTokenRead,
} from "../../core/metrics";
import { emfBuffer } from "../support/emf";

function sink() {
  const buffer = emfBuffer();
  const metrics = createMetrics({
    namespace: metricNamespace("test"),
    destination: buffer.destination,
    now: () => 1_795_000_000_123,
  });
  return { metrics, ...buffer };
}

describe("EMF lines", () => {
  it("are one JSON line each, with the timestamp, namespace, dimensions and units CloudWatch reads", () => {
    const { metrics, lines } = sink();
    metrics.put(
      { Calls: 2, Latency: { value: 12.5, unit: "Milliseconds" } },
      { Broker: "KIS" },
      { run_id: "r1" },
    );
    expect(lines).toHaveLength(1);
    expect(lines[0]?.endsWith("\n")).toBe(true);
    expect(JSON.parse(lines[0] as string)).toEqual({
      _aws: {
        Timestamp: 1_795_000_000_123,
        CloudWatchMetrics: [
          {
            Namespace: "SecuritiesSupport/test",
            Dimensions: [["Broker"]],
            Metrics: [
              { Name: "Calls", Unit: "Count" },
              { Name: "Latency", Unit: "Milliseconds" },
            ],
          },
        ],
      },
      run_id: "r1",
      Broker: "KIS",
      Calls: 2,
      Latency: 12.5,
    });
  });

  it("a document without dimensions has one empty dimension set", () => {
    const { metrics, documents, lines } = sink();
    metrics.put({ Runs: 1 });
    expect(JSON.parse(lines[0] as string)._aws.CloudWatchMetrics[0].Dimensions).toEqual([[]]);
    expect(documents()[0]?.metrics).toEqual({ Runs: { value: 1, unit: "Count" } });
  });

  it("nothing is written for no values", () => {
    const { metrics, lines } = sink();
    metrics.put({});
    expect(lines).toEqual([]);
  });
});

describe("the service's metrics", () => {
  it("a refresh run writes its outcome, then one count per token state", () => {
    const { metrics, documents } = sink();
    recordRefreshRun(metrics, {
      issued: 3,
      failed: 1,
      deferred: 2,
      expiringUnrefreshed: 1,
      durationMs: 1234.56,
      states: { valid: 3, failing: 1 },
    });
    const [run, valid, failing] = documents();
    expect(run?.dimensions).toEqual({});
    expect(run?.metrics).toEqual({
      [METRIC.refreshIssued]: { value: 3, unit: "Count" },
      [METRIC.refreshFailed]: { value: 1, unit: "Count" },
      [METRIC.refreshDeferred]: { value: 2, unit: "Count" },
      [METRIC.tokensExpiringUnrefreshed]: { value: 1, unit: "Count" },
      [METRIC.refreshDuration]: { value: 1234.6, unit: "Milliseconds" },
    });
    expect(valid).toMatchObject({
      dimensions: { State: "valid" },
      metrics: { Tokens: { value: 3 } },
    });
    expect(failing).toMatchObject({
      dimensions: { State: "failing" },
      metrics: { Tokens: { value: 1 } },
    });
  });

  it("a token read is counted by outcome and timed", () => {
    const { metrics, documents } = sink();
    recordTokenRead(metrics, { ok: false, latencyMs: 3.21 });
    expect(documents()[0]).toMatchObject({
      dimensions: { Outcome: "error" },
      metrics: { TokenReads: { value: 1 }, TokenReadLatency: { value: 3.2, unit: "Milliseconds" } },
    });
  });

  it("a gateway call is counted by broker and answer, with latency, paced wait and rate limiting per broker", () => {
    const { metrics, documents } = sink();
    recordGatewayCall(metrics, {
      broker: "KIS",
      status: 500,
      brokerCode: "EGW00201",
      latencyMs: 40,
      pacedWaitMs: 120,
      rateLimited: true,
    });
    const [count, timings] = documents();
    expect(count).toMatchObject({
      dimensions: { Broker: "KIS", Answer: "EGW00201" },
      metrics: { GatewayCalls: { value: 1 } },
    });
    expect(timings?.dimensions).toEqual({ Broker: "KIS" });
    expect(timings?.metrics).toMatchObject({
      GatewayLatency: { value: 40, unit: "Milliseconds" },
      GatewayPacedWaits: { value: 1 },
      GatewayPacedWaitTime: { value: 120 },
      GatewayRateLimited: { value: 1 },
    });
  });

  it("a gateway answer is counted under the broker's code, else the status, else unreachable", () => {
    expect(gatewayAnswerCode({ status: 200 })).toBe("200");
    expect(gatewayAnswerCode({ status: 429, brokerCode: "1700" })).toBe("1700");
    expect(gatewayAnswerCode({ status: 0 })).toBe("unreachable");
  });

  it("a migrate run is counted by outcome", () => {
    const { metrics, documents } = sink();
    recordMigration(metrics, { ok: false, action: "up" });
    expect(documents()[0]).toMatchObject({
      dimensions: { Outcome: "failed" },
      metrics: { MigrationRuns: { value: 1 } },
    });
  });
});

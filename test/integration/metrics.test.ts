import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalKeyProvider } from "../../core/crypto";
import { createMetrics, METRIC } from "../../core/metrics";
import { composeService, parseServiceSettings } from "../../core/service";
import { refreshDueTokens } from "../../core/tokens";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { emfBuffer } from "../support/emf";
import { startTestBrokerSandbox, type TestBrokerSandbox } from "../support/sandbox";
import { offsetClock, securitiesAccount } from "../support/tokens";

let db: TestDatabase;
let broker: TestBrokerSandbox;
const clock = offsetClock();

beforeAll(async () => {
  db = await createTestDatabase();
  broker = await startTestBrokerSandbox({ clock });
});
afterAll(async () => {
  await broker?.stop();
  await db?.drop();
});

function compose() {
  const emf = emfBuffer();
  const metrics = createMetrics({
    namespace: "SecuritiesSupport/test",
    destination: emf.destination,
  });
  const pieces = composeService({
    sql: db.sql,
    keys: createLocalKeyProvider({ masterKey: randomBytes(32) }),
    settings: parseServiceSettings({ ...broker.env, TOKEN_ISSUE_WAIT_MS: "0" }),
    clock,
    metrics,
  });
  return { ...pieces, metrics, emf };
}

describe("metrics of the real service", () => {
  it("a refresh run writes issued, failed, expiring unrefreshed and every token state", async () => {
    const { cipher, tokens, metrics, emf } = compose();
    await securitiesAccount(db.sql, cipher, { broker: "KIS" });
    await securitiesAccount(db.sql, cipher, { broker: "KIWOOM" });
    broker.sandbox.configure({ failNext: ["server_error"] });
    const summary = await refreshDueTokens({ sql: db.sql, tokens, clock, metrics });
    expect(summary).toMatchObject({ issued: 1, failed: 1 });
    const [run, ...states] = emf.documents();
    expect(run?.metrics).toMatchObject({
      [METRIC.refreshIssued]: { value: 1 },
      [METRIC.refreshFailed]: { value: 1 },
      [METRIC.refreshDeferred]: { value: 0 },
      [METRIC.tokensExpiringUnrefreshed]: { value: 1 },
      [METRIC.refreshDuration]: { unit: "Milliseconds" },
    });
    const byState = Object.fromEntries(
      states.map((doc) => [doc.dimensions.State, doc.metrics[METRIC.tokens]?.value]),
    );
    expect(byState).toEqual({
      valid: 1,
      expiring: 0,
      failing: 1,
      rejected: 0,
      expired: 0,
      missing: 0,
    });
  });

  it("a broker call through the composed gateway is counted by broker and answer, with its timings", async () => {
    const { cipher, gateway, emf } = compose();
    const account = await securitiesAccount(db.sql, cipher, {
      broker: "KIS",
      environment: "paper",
    });
    clock.advance(120_000);
    const answer = await gateway.call({
      accountId: account.id,
      method: "GET",
      target:
        "/uapi/domestic-stock/v1/quotations/inquire-price?FID_COND_MRKT_DIV_CODE=J&FID_INPUT_ISCD=005930",
      header: (name) => (name === "tr_id" ? "FHKST01010100" : undefined),
      body: undefined,
      keyId: "metrics-test",
    });
    expect(answer.status).toBe(200);
    const documents = emf.documents();
    expect(documents.find((doc) => METRIC.gatewayCalls in doc.metrics)).toMatchObject({
      dimensions: { Broker: "KIS", Answer: "200" },
      metrics: { [METRIC.gatewayCalls]: { value: 1 } },
    });
    expect(documents.find((doc) => METRIC.gatewayLatency in doc.metrics)).toMatchObject({
      dimensions: { Broker: "KIS" },
      metrics: {
        [METRIC.gatewayLatency]: { unit: "Milliseconds" },
        [METRIC.gatewayRateLimited]: { value: 0 },
      },
    });
  });

  it("every token read through the composed service is counted and timed, failures too", async () => {
    const { cipher, tokens, emf } = compose();
    const account = await securitiesAccount(db.sql, cipher, {
      broker: "KIS",
      environment: "paper",
    });
    clock.advance(120_000);
    await tokens.getValidToken(account.id);
    await tokens.getValidToken(account.id);
    await expect(tokens.getValidToken(2_000_000_000)).rejects.toThrow();
    const reads = emf.documents().filter((doc) => METRIC.tokenReads in doc.metrics);
    expect(reads.map((doc) => doc.dimensions.Outcome)).toEqual(["ok", "ok", "error"]);
    expect(
      reads.every((doc) => doc.metrics[METRIC.tokenReadLatency]?.unit === "Milliseconds"),
    ).toBe(true);
  });
});

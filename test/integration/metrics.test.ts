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

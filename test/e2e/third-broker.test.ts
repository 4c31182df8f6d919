import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { parseBrokerSettings, registerBrokerAdapter } from "../../core/brokers";
import { brokerSettingSpecs } from "../../core/brokers/settings";
import { parseStreamSettings } from "../../core/stream/settings";
import { brokerUrlSettings as startUrlSettings } from "../../dev/start-settings";
import { alarmPlans } from "../../infra/alarm-rules";
import { brokerCallSettings, brokerUrlSettings, parseInfraSettings } from "../../infra/settings";
import { ACME, acmeAdapter, acmeSandbox } from "../support/acme-broker";
import { startTestServer, type TestServer } from "../support/server";

// Issue 20: a third broker is its adapter and its sandbox handler, registered
// here; no file of the service names it.
registerBrokerAdapter(acmeAdapter);

const acme = acmeSandbox();
let server: TestServer;

function account(environment: "real" | "paper", accountNumber = "1234567890") {
  const tag = randomBytes(8).toString("hex");
  return {
    name: `Acme ${environment} ${tag}`,
    account_type: "SECURITIES_STOCK",
    exchange: "ACME",
    environment,
    api_key: `acme-key-${tag}`,
    api_secret: `acme-secret-${tag}`,
    securities_config: { account_number: accountNumber, market_type: "DOMESTIC_STOCK" },
  };
}

async function create(environment: "real" | "paper") {
  const body = account(environment);
  const response = await server.call("/accounts", { method: "POST", body: JSON.stringify(body) });
  expect(response.status).toBe(201);
  return { id: ((await response.json()) as { id: number }).id, appKey: body.api_key };
}

async function call(id: number, path: string, headers: Record<string, string> = {}) {
  const response = await server.call(`/accounts/${id}/broker/${path}`, { headers });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

beforeAll(async () => {
  server = await startTestServer({
    sandbox: { brokers: { acme: { broker: ACME, handler: acme.handler } } },
    env: { ACME_MIN_ISSUE_INTERVAL_MS: "500" },
  });
});

afterAll(async () => {
  await server?.stop();
});

describe("a third broker registered from test code", () => {
  test("its settings are read by the same parsers: defaults, overrides, floor and websocket URLs", () => {
    const defaults = parseBrokerSettings({}).brokers[ACME];
    expect(defaults).toEqual({
      baseUrls: { real: "https://api.acme.invalid", paper: "https://paper.acme.invalid" },
      minIssueIntervalMs: 2_000,
      callsPerSecond: { real: 3, paper: 1 },
      orderCallsPerSecond: { real: 1, paper: 1 },
    });
    const set = parseBrokerSettings({
      ACME_REAL_URL: "https://other.acme.invalid/",
      ACME_REAL_CALLS_PER_SECOND: "7",
    }).brokers[ACME];
    expect(set.baseUrls.real).toBe("https://other.acme.invalid");
    expect(set.callsPerSecond.real).toBe(7);
    expect(() => parseBrokerSettings({ ACME_MIN_ISSUE_INTERVAL_MS: "499" })).toThrow(
      /ACME_MIN_ISSUE_INTERVAL_MS/,
    );
    expect(parseBrokerSettings({ ACME_MIN_ISSUE_INTERVAL_MS: "500" }).brokers[ACME]).toMatchObject({
      minIssueIntervalMs: 500,
    });
    expect(Object.keys(brokerSettingSpecs()).filter((name) => name.startsWith("ACME_"))).toEqual([
      "ACME_REAL_URL",
      "ACME_PAPER_URL",
      "ACME_MIN_ISSUE_INTERVAL_MS",
      "ACME_REAL_CALLS_PER_SECOND",
      "ACME_REAL_ORDER_CALLS_PER_SECOND",
      "ACME_PAPER_CALLS_PER_SECOND",
      "ACME_PAPER_ORDER_CALLS_PER_SECOND",
    ]);
    const stream = parseStreamSettings({ ACME_PAPER_WS_URL: "ws://127.0.0.1:1/acme" });
    expect(stream.wsUrls[ACME]).toEqual({
      real: "wss://stream.acme.invalid/real",
      paper: "ws://127.0.0.1:1/acme",
    });
  });

  test("a deploy passes its URLs and call rates on, and npm start leaves the sandbox when its URL is set", () => {
    expect(brokerUrlSettings()).toContain("ACME_PAPER_URL");
    expect(brokerCallSettings()).toContain("ACME_REAL_CALLS_PER_SECOND");
    const infra = parseInfraSettings("production", {
      ACME_REAL_URL: "https://api.acme.example",
      ACME_REAL_CALLS_PER_SECOND: "4",
    });
    expect(infra.brokerUrls).toEqual({ ACME_REAL_URL: "https://api.acme.example" });
    expect(infra.brokerCalls).toEqual({ ACME_REAL_CALLS_PER_SECOND: "4" });
    expect(() => parseInfraSettings("production", { ACME_PAPER_URL: "http://x" })).toThrow(
      'ACME_PAPER_URL must be an https:// base URL, not "http://x".',
    );
    expect(startUrlSettings().slice(-2)).toEqual(["ACME_REAL_URL", "ACME_PAPER_URL"]);
  });

  test("infra gives it its own rate-limit alarm, named by its alarm name", () => {
    const plan = alarmPlans(parseInfraSettings("production", {})).find(
      (candidate) => candidate.name === "GatewayAcmeRateLimited",
    );
    expect(plan?.description).toBe(
      'ACME answered "too many calls" to at least 10 gateway calls in 5 minutes.',
    );
  });

  test("an account is validated by its adapter's securities_config rules", async () => {
    const refused = await server.call("/accounts", {
      method: "POST",
      body: JSON.stringify(account("real", "12345678")),
    });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({
      errors: [
        {
          field: "securities_config.account_number",
          message: "must be exactly 10 digits for Acme",
        },
      ],
    });
    const { id } = await create("real");
    const stored = await server.call(`/accounts/${id}`);
    expect(await stored.json()).toMatchObject({ exchange: "ACME", environment: "real" });
  });

  test("a token is issued by its adapter from its sandbox, once, and served from the store after", async () => {
    const { id } = await create("real");
    const before = acme.issued();
    const first = await server.call(`/accounts/${id}/token`);
    expect(first.status).toBe(200);
    const token = (await first.json()) as { access_token: string; token_type: string };
    expect(token).toMatchObject({
      access_token: `acme-real-${before + 1}`,
      token_type: "Bearer",
    });
    const second = (await (await server.call(`/accounts/${id}/token`)).json()) as {
      access_token: string;
    };
    expect(second.access_token).toBe(token.access_token);
    expect(acme.issued()).toBe(before + 1);
  });

  test("the gateway forwards a call with its auth header, maps a paper id and hands back its headers", async () => {
    const { id, appKey } = await create("paper");
    const answer = await call(id, "v1/quote?symbol=ACME", { "acme-tr": "Q1", "acme-page": "1" });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ ok: true, transaction: "PQ1", path: "/v1/quote" });
    expect(answer.headers.get("acme-tr")).toBe("PQ1");
    expect(answer.headers.get("acme-page")).toBe("2");
    expect(answer.headers.get("x-acme-internal")).toBeNull();
    expect(answer.headers.get("x-answered-by")).toBe("broker");
    expect(acme.calls.at(-1)).toMatchObject({
      method: "GET",
      path: "/v1/quote",
      query: "symbol=ACME",
      transaction: "PQ1",
      appKey,
    });
  });

  test("the gateway's refusals name it, its prefix and its transaction header", async () => {
    const { id } = await create("real");
    const missing = await call(id, "v1/quote");
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({
      errors: [
        {
          field: "acme-tr",
          message: "is required: it names the Acme transaction to call (this account is Acme real)",
        },
      ],
    });
    const outside = await call(id, "oauth/token", { "acme-tr": "Q1" });
    expect(outside.status).toBe(400);
    expect(outside.body).toMatchObject({
      errors: [
        {
          field: "path",
          message:
            '"/oauth/token" is not under /v1/, where Acme\'s REST calls live (nothing else is forwarded)',
        },
      ],
    });
    const paperId = await call(id, "v1/quote", { "acme-tr": "PQ1" });
    expect(paperId.status).toBe(400);
    expect(paperId.body).toMatchObject({
      errors: [{ field: "acme-tr", message: "is a paper transaction id" }],
    });
  });

  test("a token its broker rejects is re-issued once and the call replayed", async () => {
    const { id } = await create("real");
    expect((await call(id, "v1/quote", { "acme-tr": "Q1" })).status).toBe(200);
    const issuedBefore = acme.issued();
    acme.rejectNextToken();
    const answer = await call(id, "v1/quote", { "acme-tr": "Q2" });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ transaction: "Q2" });
    expect(acme.issued()).toBe(issuedBefore + 1);
  });
});

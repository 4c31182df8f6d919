import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { PROBLEM_BASE, problemSchema, websocketKeySchema } from "../../core/api";
import { startTestServer, type TestServer } from "../support/server";

/** Issue 9's "done when", end to end: the API over the broker sandbox speaking the brokers' real shapes. */

let server: TestServer;

function unique(prefix: string): string {
  return `${prefix}${randomBytes(8).toString("hex")}`;
}

function account(exchange: "KIS" | "KIWOOM", environment: "real" | "paper", apiKey: string) {
  return {
    name: `${exchange} ${environment}`,
    account_type: "SECURITIES_STOCK",
    exchange,
    environment,
    api_key: apiKey,
    api_secret: unique("secret-"),
    securities_config:
      exchange === "KIS"
        ? { account_number: "50123456", product_code: "01", market_type: "DOMESTIC_STOCK" }
        : { account_number: "1234567890", market_type: "DOMESTIC_STOCK" },
  };
}

async function create(body: unknown): Promise<number> {
  const response = await server.call("/accounts", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { id: number }).id;
}

async function tokenProblem(id: number, status: number, slug: string) {
  const response = await server.call(`/accounts/${id}/token`);
  expect(response.status).toBe(status);
  const problem = problemSchema.parse(await response.json());
  expect(problem.type).toBe(`${PROBLEM_BASE}${slug}`);
  return { problem, response };
}

beforeAll(async () => {
  server = await startTestServer({
    env: { TOKEN_ISSUE_WAIT_MS: "0" },
    keys: { "ws-reader": ["tokens:read"], "accounts-only": ["accounts:read"] },
  });
});

afterAll(async () => {
  await server?.stop();
});

describe("broker codes reach the caller as problems that say what to do", () => {
  test("a Kiwoom account whose keys are refused gets broker_credentials_rejected with broker_code 8001", async () => {
    const id = await create(account("KIWOOM", "paper", unique("INVALID-")));
    const { problem } = await tokenProblem(id, 502, "broker-rejected");
    expect(problem).toMatchObject({
      code: "broker_credentials_rejected",
      broker: "KIWOOM",
      broker_code: "8001",
    });
    expect(problem.detail).toContain("PATCH /accounts/{id}");
  });

  test("8030: a Kiwoom real key on a mock account says real and mock keys are mixed up", async () => {
    const key = unique("kw-real-");
    const real = await create(account("KIWOOM", "real", key));
    expect((await server.call(`/accounts/${real}/token`)).status).toBe(200);
    const paper = await create(account("KIWOOM", "paper", key));
    const { problem } = await tokenProblem(paper, 502, "broker-rejected");
    expect(problem).toMatchObject({ code: "broker_wrong_environment", broker_code: "8030" });
    expect(problem.detail).toContain("real and mock (paper) keys are mixed up");
  });

  test("8006 at issue is a 503 with Retry-After", async () => {
    const id = await create(account("KIWOOM", "paper", unique("kw-")));
    server.sandbox.sandbox.configure({ failNextCodes: ["8006"] });
    const { problem, response } = await tokenProblem(id, 503, "broker-unavailable");
    expect(problem.broker_code).toBe("8006");
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  test("KIS EGW00207 says the IP must be registered", async () => {
    const id = await create(account("KIS", "paper", unique("PS")));
    server.sandbox.sandbox.configure({ kisRegisteredIps: ["10.0.0.7"] });
    try {
      const { problem } = await tokenProblem(id, 502, "broker-rejected");
      expect(problem).toMatchObject({ code: "broker_ip_not_registered", broker_code: "EGW00207" });
      expect(problem.detail).toContain("Register this service's egress IP address");
    } finally {
      server.sandbox.sandbox.configure({ kisRegisteredIps: [] });
    }
  });
});

describe("GET /accounts/{id}/websocket-key", () => {
  test("a KIS account gets its approval key, issued once and served from cache; reads are logged with the key id, never the key", async () => {
    const id = await create(account("KIS", "paper", unique("PS")));
    const before = server.sandbox.sandbox.stats().approvalKeys.issued;
    const read = () =>
      server.call(`/accounts/${id}/websocket-key`, { key: server.keys["ws-reader"] });
    const first = await read();
    expect(first.status).toBe(200);
    expect(first.headers.get("cache-control")).toBe("no-store");
    const body = websocketKeySchema.parse(await first.json());
    expect(Date.parse(body.expires_at)).toBeGreaterThan(Date.now() + 23 * 3_600_000);
    const again = websocketKeySchema.parse(await (await read()).json());
    expect(again).toEqual(body);
    expect(server.sandbox.sandbox.stats().approvalKeys.issued).toBe(before + 1);

    const reads = server
      .logs()
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.event === "websocket_key_read" && line.account_id === id);
    expect(reads).toHaveLength(2);
    expect(reads[0]).toMatchObject({ key_id: "ws-reader" });
    expect(server.logs()).not.toContain(body.approval_key);
  });

  test("changing the account's credentials removes the key: the next read issues a new one", async () => {
    const id = await create(account("KIS", "paper", unique("PS")));
    const first = websocketKeySchema.parse(
      await (await server.call(`/accounts/${id}/websocket-key`)).json(),
    );
    const patched = await server.call(`/accounts/${id}`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ api_key: unique("PS"), api_secret: unique("secret-") }),
    });
    expect(patched.status).toBe(200);
    const next = websocketKeySchema.parse(
      await (await server.call(`/accounts/${id}/websocket-key`)).json(),
    );
    expect(next.approval_key).not.toBe(first.approval_key);
  });

  test("a Kiwoom account gets 409 websocket_key_not_supported, which does not send it to GET /token (no other host can use a Kiwoom token)", async () => {
    const id = await create(account("KIWOOM", "paper", unique("kw-")));
    const response = await server.call(`/accounts/${id}/websocket-key`);
    expect(response.status).toBe(409);
    const problem = problemSchema.parse(await response.json());
    expect(problem.code).toBe("websocket_key_not_supported");
    expect(problem.detail).toContain("only from the address that issued it");
    expect(problem.detail).not.toContain("/token");
  });

  test("needs tokens:read", async () => {
    const id = await create(account("KIS", "paper", unique("PS")));
    const response = await server.call(`/accounts/${id}/websocket-key`, {
      key: server.keys["accounts-only"],
    });
    expect(response.status).toBe(403);
  });
});

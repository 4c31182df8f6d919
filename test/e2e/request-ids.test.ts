import { randomBytes } from "node:crypto";
import type { Context } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createApp, handleHttpApi } from "../../core/api";
import { createAuthenticator } from "../../core/auth";
import { createLogger } from "../../core/log";
import { startTestServer, type TestServer } from "../support/server";

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.stop();
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function logLines(): Record<string, unknown>[] {
  return server
    .logs()
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

function linesOf(requestId: string) {
  return logLines().filter((line) => line.request_id === requestId);
}

/** Every key at any depth that is not snake_case (lowercase letters, digits, underscores). */
function nonSnakeKeys(value: unknown, path = ""): string[] {
  if (Array.isArray(value)) return value.flatMap((item, i) => nonSnakeKeys(item, `${path}[${i}]`));
  if (!value || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([key, inner]) => [
    ...(/^[a-z][a-z0-9_]*$/.test(key) ? [] : [`${path}.${key}`]),
    ...nonSnakeKeys(inner, `${path}.${key}`),
  ]);
}

describe("request ids", () => {
  test("a response without a caller id gets a new UUID, different per request", async () => {
    const first = await server.call("/health", { key: null });
    const second = await server.call("/health", { key: null });
    const a = first.headers.get("x-request-id");
    const b = second.headers.get("x-request-id");
    expect(a).toMatch(UUID);
    expect(b).toMatch(UUID);
    expect(a).not.toBe(b);
  });

  test("a well-formed caller id is in the response, its problem document and every log line of the request", async () => {
    const id = `trade-${randomBytes(6).toString("hex")}`;
    const response = await server.call("/accounts/2000000000", { headers: { "x-request-id": id } });
    expect(response.status).toBe(404);
    expect(response.headers.get("x-request-id")).toBe(id);
    const problem = (await response.json()) as { request_id?: string };
    expect(problem.request_id).toBe(id);
    const lines = linesOf(id);
    expect(lines.map((line) => line.event)).toContain("request");
  });

  test("log lines written deep in core during a request carry its id (a token issuance)", async () => {
    const created = await server.call("/accounts", {
      method: "POST",
      body: JSON.stringify({
        name: "KIS paper",
        account_type: "SECURITIES_STOCK",
        exchange: "KIS",
        environment: "paper",
        api_key: `PSkey${randomBytes(8).toString("hex")}`,
        api_secret: randomBytes(16).toString("hex"),
        securities_config: {
          account_number: "50123456",
          product_code: "01",
          market_type: "DOMESTIC_STOCK",
        },
      }),
      headers: { "content-type": "application/json" },
    });
    expect(created.status).toBe(201);
    const { id: accountId } = (await created.json()) as { id: number };
    const id = `tok-${randomBytes(6).toString("hex")}`;
    const token = await server.call(`/accounts/${accountId}/token`, {
      headers: { "x-request-id": id },
    });
    expect(token.status).toBe(200);
    const events = linesOf(id).map((line) => line.event);
    expect(events).toEqual(expect.arrayContaining(["token_issued", "token_read", "request"]));
  });

  test.each([
    ["with a space", "two words"],
    ["with a quote", 'a"b'],
    ["over 128 characters", "x".repeat(129)],
  ])("a caller id %s is replaced by a new one", async (_label, given) => {
    const response = await server.call("/nope", { headers: { "x-request-id": given } });
    expect(response.status).toBe(404);
    const id = response.headers.get("x-request-id");
    expect(id).toMatch(UUID);
    expect(((await response.json()) as { request_id: string }).request_id).toBe(id);
  });

  test("every log line so far has snake_case keys only", () => {
    const lines = logLines();
    expect(lines.length).toBeGreaterThan(5);
    expect(lines.flatMap((line) => nonSnakeKeys(line))).toEqual([]);
  });
});

describe("in Lambda", () => {
  function lambdaHandler(lines: Record<string, unknown>[]) {
    const logger = createLogger({
      destination: { write: (line: string) => lines.push(JSON.parse(line)) },
    });
    return handleHttpApi(
      createApp({
        sql: server.runtime.sql,
        cipher: server.runtime.cipher,
        tokens: server.runtime.tokens,
        gateway: server.runtime.gateway,
        auth: createAuthenticator({ description: "none", keys: async () => [] }),
        logger,
        platformRequestId: (env) =>
          (env as { requestContext?: { requestId?: string } }).requestContext?.requestId,
      }),
    );
  }

  type GatewayEvent = Parameters<ReturnType<typeof lambdaHandler>>[0];

  function event(headers: Record<string, string>): GatewayEvent {
    return {
      version: "2.0",
      routeKey: "$default",
      rawPath: "/accounts",
      rawQueryString: "",
      headers,
      isBase64Encoded: false,
      requestContext: {
        accountId: "123456789012",
        apiId: "api",
        domainName: "api.example.com",
        domainPrefix: "api",
        http: {
          method: "GET",
          path: "/accounts",
          protocol: "HTTP/1.1",
          sourceIp: "203.0.113.9",
          userAgent: "test",
        },
        requestId: "JmEk4jG9oE0EJ9A=",
        routeKey: "$default",
        stage: "$default",
        time: "26/Nov/2026:22:00:00 +0000",
        timeEpoch: 1_795_000_000_000,
      },
    };
  }

  test("API Gateway's request id is used when the caller sent none, in the header, the problem and the log", async () => {
    const lines: Record<string, unknown>[] = [];
    const answer = await lambdaHandler(lines)(event({}), {} as Context);
    expect(answer.statusCode).toBe(401);
    expect(answer.headers?.["x-request-id"]).toBe("JmEk4jG9oE0EJ9A=");
    expect(JSON.parse(answer.body ?? "{}").request_id).toBe("JmEk4jG9oE0EJ9A=");
    expect(lines.find((line) => line.event === "request")?.request_id).toBe("JmEk4jG9oE0EJ9A=");
  });

  test("the caller's well-formed id wins over API Gateway's", async () => {
    const lines: Record<string, unknown>[] = [];
    const answer = await lambdaHandler(lines)(
      event({ "x-request-id": "from-caller-1" }),
      {} as Context,
    );
    expect(answer.headers?.["x-request-id"]).toBe("from-caller-1");
  });
});

import { Writable } from "node:stream";
import { describe, expect, test } from "vitest";
import { type ApiTokenService, createApp, PROBLEM_BASE, toProblem } from "../../core/api";
import { createAuthenticator, createStaticKeyStore, generateApiKey } from "../../core/auth";
import { BrokerRateLimitedError, BrokerRejectedError } from "../../core/brokers";
import type { Cipher } from "../../core/crypto";
import type { Sql } from "../../core/db";
import type { BrokerGateway } from "../../core/gateway";
import { createLogger } from "../../core/log";
import { TokenIssuanceDeferredError } from "../../core/tokens";

const admin = generateApiKey("ops", ["admin"]);

function appWith(tokens: Partial<ApiTokenService>) {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const app = createApp({
    sql: {} as Sql,
    cipher: {} as Cipher,
    tokens: tokens as ApiTokenService,
    gateway: {} as BrokerGateway,
    auth: createAuthenticator(createStaticKeyStore([admin.record])),
    logger: createLogger({ destination }),
  });
  const get = (path: string, init: RequestInit = {}) =>
    app.request(path, {
      ...init,
      headers: { authorization: `Bearer ${admin.key}`, ...init.headers },
    });
  return { get, logs: () => lines.join("") };
}

describe("every problem has a code", () => {
  test.each([
    [
      "a missing key (401)",
      "/accounts",
      { headers: { authorization: "" } },
      401,
      "api_key_missing",
    ],
    [
      "an unknown key (401)",
      "/accounts",
      { headers: { authorization: "Bearer nobody.0123456789abcdef0123456789abcdef" } },
      401,
      "api_key_unknown",
    ],
    ["a wrong method (405)", "/accounts/1/token", { method: "DELETE" }, 405, "method_not_allowed"],
    [
      "malformed JSON (400)",
      "/accounts",
      { method: "POST", body: "{", headers: { "content-type": "application/json" } },
      400,
      "malformed_json",
    ],
    ["an unknown route (404)", "/no-such-route", {}, 404, "route_not_found"],
    ["a route's path with a trailing slash (404)", "/accounts/", {}, 404, "route_not_found"],
    ["a route's path ending in a dot segment (404)", "/accounts/.", {}, 404, "route_not_found"],
  ] as const)("%s", async (_what, path, init, status, code) => {
    const { get } = appWith({});
    const response = await get(path, init as RequestInit);
    expect(response.status).toBe(status);
    expect(await response.json()).toMatchObject({ status, code });
  });

  test("an unexpected error's 500 has the code internal_error", () => {
    expect(toProblem(new Error("boom")).problem.code).toBe("internal_error");
  });

  test("an unreachable database's 503 has the code database_unreachable", () => {
    const error = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    expect(toProblem(error).problem.code).toBe("database_unreachable");
  });
});

describe("error mapping", () => {
  test("an unknown error is a bare 500, logged without the values it carried", async () => {
    const error = Object.assign(new Error("boom"), { parameters: ["a-secret-parameter"] });
    const { get, logs } = appWith({ getValidToken: () => Promise.reject(error) });
    const response = await get("/accounts/1/token");
    expect(response.status).toBe(500);
    expect(await response.json()).toMatchObject({
      type: `${PROBLEM_BASE}internal`,
      detail: "An unexpected error happened; it has been logged.",
    });
    expect(logs()).toContain("boom");
    expect(logs()).not.toContain("a-secret-parameter");
  });

  test("a broker rate limit is 503 with Retry-After in whole seconds and the broker code", () => {
    const answer = toProblem(
      new BrokerRateLimitedError("too fast", {
        broker: "KIS",
        brokerCode: "EGW00133",
        retryAfterMs: 60_500,
      }),
    );
    expect(answer.problem).toMatchObject({
      status: 503,
      broker_code: "EGW00133",
      retry_after_seconds: 61,
    });
    expect(answer.headers["Retry-After"]).toBe("61");
  });

  test("an issuance deferred for the broker's pace is 503 with Retry-After", () => {
    const answer = toProblem(
      new TokenIssuanceDeferredError("KIS allows one issue a minute", 30_000),
    );
    expect(answer.problem.status).toBe(503);
    expect(answer.headers["Retry-After"]).toBe("30");
  });

  test("a broker rejection is 502 naming the broker's code", () => {
    const answer = toProblem(
      new BrokerRejectedError("refused", { broker: "KIWOOM", brokerCode: "8030" }),
    );
    expect(answer.problem).toMatchObject({ status: 502, broker: "KIWOOM", broker_code: "8030" });
  });

  test("an unreachable database is 503, not 500", () => {
    const answer = toProblem(
      Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }),
    );
    expect(answer.problem.status).toBe(503);
  });
});

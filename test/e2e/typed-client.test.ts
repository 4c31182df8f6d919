/**
 * The trading server's view: a client typed by the types openapi-typescript
 * generates from openapi.json (test/support/openapi-types.ts, written by
 * `npm run openapi`), driving the running API with openapi-fetch. A route or
 * schema that drifts from the document fails to compile (npm run typecheck)
 * or fails here.
 */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import createClient from "openapi-fetch";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { paths } from "../support/openapi-types";
import { startTestServer, type TestServer } from "../support/server";

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.stop();
});

test("create accounts, read a token and the token status, call the broker through the gateway, and page the accounts list, all through the typed client", async () => {
  // The five lines the README shows a trading server.
  const api = createClient<paths>({
    baseUrl: server.url,
    headers: { authorization: `Bearer ${server.adminKey}` },
  });
  const { data: account, error } = await api.POST("/accounts", {
    body: {
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
    },
  });
  // On failure, the server's error lines say why.
  expect(
    error,
    server
      .logs()
      .split("\n")
      .filter((line) => line.includes('"level":"error"'))
      .join("\n"),
  ).toBeUndefined();
  if (!account) throw new Error("no account created");
  expect(account.account_type).toBe("SECURITIES_STOCK");
  expect(account.has_api_secret).toBe(true);

  const token = await api.GET("/accounts/{id}/token", { params: { path: { id: account.id } } });
  expect(token.response.status).toBe(200);
  expect(token.data?.token_type).toBe("Bearer");
  expect(Date.parse(token.data?.expires_at ?? "")).toBeGreaterThan(Date.now());

  const status = await api.GET("/tokens/status");
  const mine = status.data?.accounts.find((row) => row.account_id === account.id);
  expect(mine?.state).toBe("valid");
  expect(status.data?.totals.accounts).toBeGreaterThanOrEqual(1);

  // The plain generated call: openapi-fetch encodes the broker path whole
  // (its slashes as %2F) and sends broker_query as broker_query[NAME]=value.
  const quote = await api.GET("/accounts/{id}/broker/{broker_path}", {
    params: {
      path: { id: account.id, broker_path: "uapi/domestic-stock/v1/quotations/inquire-price" },
      query: { broker_query: { FID_COND_MRKT_DIV_CODE: "J", FID_INPUT_ISCD: "000660" } },
      header: { tr_id: "FHKST01010100" },
    },
  });
  expect(quote.response.url).toContain("uapi%2Fdomestic-stock%2Fv1");
  expect(quote.response.status, JSON.stringify(quote.error)).toBe(200);
  expect(quote.response.headers.get("x-answered-by")).toBe("broker");
  expect(quote.data).toMatchObject({ rt_cd: "0", output: { stck_shrn_iscd: "000660" } });
  const calls = await api.GET("/broker/status");
  expect(calls.data?.accounts.find((row) => row.account_id === account.id)?.calls).toBe(1);

  for (let i = 0; i < 4; i++) {
    const crypto = await api.POST("/accounts", {
      body: {
        name: `upbit ${i}`,
        account_type: "CRYPTO",
        exchange: "upbit",
        api_key: randomBytes(8).toString("hex"),
        api_secret: randomBytes(16).toString("hex"),
      },
    });
    expect(crypto.response.status).toBe(201);
  }
  const seen: number[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 10; page++) {
    const { data } = await api.GET("/accounts", {
      params: { query: { limit: 2, ...(cursor ? { cursor } : {}) } },
    });
    if (!data) throw new Error("no page");
    expect(data.accounts.length).toBeLessThanOrEqual(2);
    for (const row of data.accounts) seen.push(row.id);
    if (!data.next_cursor) break;
    cursor = data.next_cursor;
  }
  expect(seen).toHaveLength(5);
  expect(new Set(seen).size).toBe(5);
  expect(seen).toContain(account.id);
});

test("a problem document comes back typed as the error, with its request id", async () => {
  const api = createClient<paths>({
    baseUrl: server.url,
    headers: { authorization: "Bearer nope.nope" },
  });
  const { data, error, response } = await api.GET("/accounts/{id}", {
    params: { path: { id: 1 } },
    headers: { "x-request-id": "typed-client-1" },
  });
  expect(data).toBeUndefined();
  expect(response.status).toBe(401);
  expect(error).toMatchObject({ status: 401, request_id: "typed-client-1" });
});

test("this file calls the gateway as generated: no custom serializer and no casts", async () => {
  const source = await readFile(import.meta.filename, "utf8");
  // Spelled in pieces, so that these lines do not match themselves.
  const banned = [
    ["path", "Serializer"],
    ["query", "Serializer"],
    [" as ", "never"],
    [" as ", "unknown"],
    [" as ", "any"],
  ].map((parts) => parts.join(""));
  expect(banned.filter((word) => source.includes(word))).toEqual([]);
});

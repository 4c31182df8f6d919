import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import {
  accountListSchema,
  PROBLEM_BASE,
  problemSchema,
  publicAccountSchema,
  tokenSchema,
  tokenStatusSchema,
} from "../../core/api";
import { EXPECTED_ROUTES } from "../support/routes";
import { resetSandbox } from "../support/sandbox";
import { startTestServer, type TestServer } from "../support/server";

let server: TestServer;
/** Every secret sent or received in this file; the logs must contain none of them. */
const secrets: string[] = [];

function secret(prefix: string): string {
  const value = `${prefix}${randomBytes(12).toString("hex")}`;
  secrets.push(value);
  return value;
}

function kisBody(overrides: Record<string, unknown> = {}) {
  return {
    name: "KIS paper",
    account_type: "SECURITIES_STOCK",
    exchange: "KIS",
    environment: "paper",
    api_key: secret("PSkey"),
    api_secret: secret("kis-secret-"),
    securities_config: {
      account_number: "50123456",
      product_code: "01",
      market_type: "DOMESTIC_STOCK",
      cert_password: secret("cert-"),
      additional_params: { hts_id: "tester" },
    },
    ...overrides,
  };
}

function kiwoomBody(overrides: Record<string, unknown> = {}) {
  return {
    name: "Kiwoom mock",
    account_type: "SECURITIES_STOCK",
    exchange: "KIWOOM",
    environment: "paper",
    api_key: secret("kiwoom-key-"),
    api_secret: secret("kiwoom-secret-"),
    securities_config: { account_number: "1234567890", market_type: "DOMESTIC_STOCK" },
    ...overrides,
  };
}

function cryptoBody() {
  return {
    name: "upbit main",
    account_type: "CRYPTO",
    exchange: "upbit",
    api_key: secret("upbit-key-"),
    api_secret: secret("upbit-secret-"),
  };
}

async function post(path: string, body: unknown, key?: string | null) {
  return server.call(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
    ...(key !== undefined ? { key } : {}),
  });
}

async function create(body: unknown): Promise<number> {
  const response = await post("/accounts", body);
  expect(response.status).toBe(201);
  return ((await response.json()) as { id: number }).id;
}

async function expectProblem(response: Response, status: number, slug: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  const body = problemSchema.parse(await response.json());
  expect(body.type).toBe(`${PROBLEM_BASE}${slug}`);
  expect(body.status).toBe(status);
  expect(body.detail.length).toBeGreaterThan(10);
  return body;
}

beforeAll(async () => {
  server = await startTestServer({
    keys: {
      reader: ["accounts:read"],
      writer: ["accounts:read", "accounts:write"],
      "token-reader": ["tokens:read"],
      "token-writer": ["tokens:write"],
    },
    env: { TOKEN_ISSUE_WAIT_MS: "3000", KIWOOM_MIN_ISSUE_INTERVAL_MS: "1500" },
  });
  secrets.push(server.adminKey.split(".")[1] as string);
  for (const key of Object.values(server.keys)) secrets.push(key.split(".")[1] as string);
});
// No test inherits another's queued faults, and each counts only its own broker calls.
beforeEach(() => resetSandbox(server.sandbox.sandbox));

afterAll(async () => {
  await server?.stop();
});

describe("health and the document", () => {
  test("GET /health answers ok for a reachable database without a key", async () => {
    const response = await server.call("/health", { key: null });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: "ok", database: "ok" });
  });

  test("GET /openapi.json describes exactly the expected routes, each with its scope", async () => {
    const response = await server.call("/openapi.json", { key: null });
    expect(response.status).toBe(200);
    const document = (await response.json()) as {
      openapi: string;
      paths: Record<string, Record<string, { security: unknown[]; "x-required-scope"?: string }>>;
    };
    expect(document.openapi).toBe("3.1.0");
    const documented = Object.entries(document.paths).flatMap(([path, operations]) =>
      Object.entries(operations).map(([method, operation]) => [
        method.toUpperCase(),
        path,
        operation["x-required-scope"] ?? null,
      ]),
    );
    const order = (a: unknown[], b: unknown[]) =>
      `${a[1]} ${a[0]}`.localeCompare(`${b[1]} ${b[0]}`);
    expect(documented.sort(order)).toEqual([...EXPECTED_ROUTES].sort(order));
  });

  test("every expected route is served: a key-less call is 401 where a scope is needed, never 404 or 405", async () => {
    for (const [method, path, scope] of EXPECTED_ROUTES) {
      const response = await server.call(path.replace("{id}", "1"), {
        method,
        key: null,
        ...(method === "POST" || method === "PATCH"
          ? { headers: { "content-type": "application/json" }, body: "{}" }
          : {}),
      });
      await response.arrayBuffer();
      if (scope) expect(response.status, `${method} ${path}`).toBe(401);
      else expect(response.status, `${method} ${path}`).toBe(200);
    }
  });
});

describe("authentication and scopes", () => {
  test("a request without a key is answered 401 with a Bearer challenge", async () => {
    const response = await server.call("/accounts", { key: null });
    expect(response.headers.get("www-authenticate")).toMatch(/^Bearer/);
    await expectProblem(response, 401, "unauthorized");
  });

  test("a wrong secret for a known key id is answered 401", async () => {
    const forged = `test-admin.${randomBytes(24).toString("base64url")}`;
    await expectProblem(await server.call("/accounts", { key: forged }), 401, "unauthorized");
  });

  test("a header that is not Bearer is answered 401", async () => {
    const response = await server.call("/accounts", {
      key: null,
      headers: { authorization: `Basic ${Buffer.from("a:b").toString("base64")}` },
    });
    await expectProblem(response, 401, "unauthorized");
  });

  test("a read-only key cannot create accounts", async () => {
    const response = await post("/accounts", cryptoBody(), server.keys.reader);
    const problem = await expectProblem(response, 403, "forbidden");
    expect(problem.detail).toContain("accounts:write");
  });

  test("accounts:read does not grant reading tokens, which has its own scope", async () => {
    const id = await create(kisBody());
    const response = await server.call(`/accounts/${id}/token`, { key: server.keys.reader });
    await expectProblem(response, 403, "forbidden");
  });

  test("a tokens:read key reads tokens but cannot list accounts", async () => {
    const id = await create(kiwoomBody());
    const token = await server.call(`/accounts/${id}/token`, { key: server.keys["token-reader"] });
    expect(token.status).toBe(200);
    const list = await server.call("/accounts", { key: server.keys["token-reader"] });
    await expectProblem(list, 403, "forbidden");
  });

  test("a scope check comes after authentication: an unknown key gets 401, not 403", async () => {
    await expectProblem(
      await post("/accounts", cryptoBody(), "nobody.xxxxxxxxxxxxxxxxxxxx"),
      401,
      "unauthorized",
    );
  });
});

describe("accounts", () => {
  test("creating a KIS account answers 201 with a redacted account and its location", async () => {
    const body = kisBody();
    const response = await post("/accounts", body);
    expect(response.status).toBe(201);
    const text = await response.text();
    const account = publicAccountSchema.parse(JSON.parse(text));
    expect(response.headers.get("location")).toBe(`/accounts/${account.id}`);
    expect(account).toMatchObject({
      account_type: "SECURITIES_STOCK",
      exchange: "KIS",
      environment: "paper",
      has_api_secret: true,
      securities_config: {
        account_number: "****3456",
        product_code: "01",
        has_cert_password: true,
      },
    });
    for (const value of [
      body.api_key,
      body.api_secret,
      body.securities_config.cert_password,
      "50123456",
    ]) {
      expect(text).not.toContain(value);
    }
  });

  test("secrets reach the database encrypted", async () => {
    const body = kisBody();
    const id = await create(body);
    const [row] = await server.db.sql<
      { dump: string }[]
    >`SELECT row_to_json(a)::text AS dump FROM accounts a WHERE id = ${id}`;
    expect(row?.dump).not.toContain(body.api_secret);
    expect(row?.dump).not.toContain(body.securities_config.cert_password);
  });

  test("a crypto account is created without securities fields", async () => {
    const response = await post("/accounts", cryptoBody());
    expect(response.status).toBe(201);
    expect(await response.json()).toMatchObject({
      account_type: "CRYPTO",
      securities_config: null,
      environment: null,
    });
  });

  test("a KIS account number that is not 8 digits is rejected naming the field", async () => {
    const body = kisBody();
    body.securities_config.account_number = "1234567890";
    const problem = await expectProblem(await post("/accounts", body), 400, "validation");
    expect(problem.errors?.map((e) => e.field)).toContain("securities_config.account_number");
  });

  test("an unknown broker for a securities account is rejected naming exchange", async () => {
    const problem = await expectProblem(
      await post("/accounts", kisBody({ exchange: "NOMURA" })),
      400,
      "validation",
    );
    expect(problem.errors?.map((e) => e.field)).toContain("exchange");
  });

  test("malformed JSON is answered 400 malformed-json", async () => {
    await expectProblem(await post("/accounts", '{"name": "x",'), 400, "malformed-json");
  });

  test("an empty body is a validation problem, not a crash", async () => {
    const problem = await expectProblem(await post("/accounts", ""), 400, "validation");
    expect(problem.errors?.[0]?.field).toBe("body");
  });

  test("a body over 64 KiB is answered 413", async () => {
    const response = await post("/accounts", { name: "x".repeat(70 * 1024) });
    await expectProblem(response, 413, "payload-too-large");
  });

  test("GET /accounts?type= lists only accounts of that type", async () => {
    await create(cryptoBody());
    const response = await server.call("/accounts?type=CRYPTO", { key: server.keys.reader });
    expect(response.status).toBe(200);
    const { accounts } = accountListSchema.parse(await response.json());
    expect(accounts.length).toBeGreaterThan(0);
    expect(accounts.every((a) => "account_type" in a && a.account_type === "CRYPTO")).toBe(true);
  });

  test("an unknown type filter is rejected naming type", async () => {
    const problem = await expectProblem(
      await server.call("/accounts?type=STOCKS"),
      400,
      "validation",
    );
    expect(problem.errors).toEqual([expect.objectContaining({ field: "type" })]);
  });

  test("GET /accounts/{id} returns the account, and 404 for an unknown id", async () => {
    const id = await create(cryptoBody());
    const found = await server.call(`/accounts/${id}`);
    expect(((await found.json()) as { id: number }).id).toBe(id);
    const missing = await expectProblem(
      await server.call("/accounts/2147483647"),
      404,
      "not-found",
    );
    expect(missing.code).toBe("account_not_found");
  });

  test.each(["abc", "0", "-1", "1.5", "2147483648", "99999999999", "1e3", "%20"])(
    "the id %s is rejected with 400 naming id",
    async (id) => {
      const problem = await expectProblem(await server.call(`/accounts/${id}`), 400, "validation");
      expect(problem.errors).toEqual([expect.objectContaining({ field: "id" })]);
    },
  );

  test("PATCH changes the name and answers the account", async () => {
    const id = await create(kisBody());
    const response = await server.call(`/accounts/${id}`, {
      method: "PATCH",
      body: JSON.stringify({ name: "renamed" }),
      key: server.keys.writer,
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ id, name: "renamed" });
  });

  test("PATCH with nothing to change is rejected, and an unknown account is 404", async () => {
    const id = await create(cryptoBody());
    await expectProblem(
      await server.call(`/accounts/${id}`, { method: "PATCH", body: "{}" }),
      400,
      "validation",
    );
    await expectProblem(
      await server.call("/accounts/2147483000", { method: "PATCH", body: '{"name":"x"}' }),
      404,
      "not-found",
    );
  });

  test("PATCH that changes the app key revokes the old token and the next read issues a new one", async () => {
    const id = await create(kiwoomBody());
    const first = tokenSchema.parse(await (await server.call(`/accounts/${id}/token`)).json());
    secrets.push(first.access_token);
    const revokedBefore = server.sandbox.sandbox.stats().revoked.total;
    const patch = await server.call(`/accounts/${id}`, {
      method: "PATCH",
      body: JSON.stringify({ api_key: secret("kiwoom-key-new-") }),
    });
    expect(patch.status).toBe(200);
    expect(server.sandbox.sandbox.stats().revoked.total).toBe(revokedBefore + 1);
    const second = tokenSchema.parse(await (await server.call(`/accounts/${id}/token`)).json());
    secrets.push(second.access_token);
    expect(second.access_token).not.toBe(first.access_token);
  });

  test("DELETE removes the account and its token and revokes the token at the broker", async () => {
    const id = await create(kiwoomBody());
    const token = tokenSchema.parse(await (await server.call(`/accounts/${id}/token`)).json());
    secrets.push(token.access_token);
    const revokedBefore = server.sandbox.sandbox.stats().revoked.total;
    const response = await server.call(`/accounts/${id}`, { method: "DELETE" });
    expect(response.status).toBe(204);
    expect(server.sandbox.sandbox.stats().revoked.total).toBe(revokedBefore + 1);
    const [row] = await server.db
      .sql`SELECT count(*)::int AS n FROM securities_tokens WHERE account_id = ${id}`;
    expect(row?.n).toBe(0);
    await expectProblem(await server.call(`/accounts/${id}`), 404, "not-found");
    await expectProblem(
      await server.call(`/accounts/${id}`, { method: "DELETE" }),
      404,
      "not-found",
    );
  });

  test("DELETE still succeeds when the broker cannot revoke", async () => {
    const id = await create(kiwoomBody());
    secrets.push(
      tokenSchema.parse(await (await server.call(`/accounts/${id}/token`)).json()).access_token,
    );
    server.sandbox.sandbox.configure({ failNext: ["server_error"] });
    const response = await server.call(`/accounts/${id}`, { method: "DELETE" });
    expect(response.status).toBe(204);
    // The revoke really met the fault.
    expect(server.sandbox.sandbox.stats().faults.server_error).toBe(1);
    await expectProblem(await server.call(`/accounts/${id}`), 404, "not-found");
  });
});

describe("tokens", () => {
  test("GET token answers a valid token, not cached by HTTP caches, and the same token again", async () => {
    const id = await create(kisBody());
    const first = await server.call(`/accounts/${id}/token`);
    expect(first.status).toBe(200);
    expect(first.headers.get("cache-control")).toBe("no-store");
    const token = tokenSchema.parse(await first.json());
    secrets.push(token.access_token);
    expect(new Date(token.expires_at).getTime()).toBeGreaterThan(Date.now() + 3_600_000);
    const second = tokenSchema.parse(await (await server.call(`/accounts/${id}/token`)).json());
    expect(second.access_token).toBe(token.access_token);
  });

  test("every token read is logged with the key id and account id, never the token", async () => {
    const id = await create(kiwoomBody());
    const response = await server.call(`/accounts/${id}/token`, {
      key: server.keys["token-reader"],
    });
    const token = tokenSchema.parse(await response.json());
    secrets.push(token.access_token);
    const reads = server
      .logs()
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.event === "token_read" && line.account_id === id);
    expect(reads).toEqual([expect.objectContaining({ key_id: "token-reader" })]);
    expect(server.logs()).not.toContain(token.access_token);
  });

  test("a crypto account has no broker token: 409", async () => {
    const id = await create(cryptoBody());
    const problem = await expectProblem(
      await server.call(`/accounts/${id}/token`),
      409,
      "conflict",
    );
    expect(problem.code).toBe("account_not_securities");
  });

  test("an unknown account's token is 404", async () => {
    await expectProblem(await server.call("/accounts/2147480000/token"), 404, "not-found");
  });

  test("credentials the broker refuses answer 502 with the broker's code", async () => {
    const id = await create(kisBody({ api_key: `INVALID${randomBytes(6).toString("hex")}` }));
    const problem = await expectProblem(
      await server.call(`/accounts/${id}/token`),
      502,
      "broker-rejected",
    );
    expect(problem.broker).toBe("KIS");
    expect(problem.broker_code).toMatch(/^EGW/);
    expect(problem.detail).toContain("PATCH /accounts/{id}");
  });

  test("a broker answering 5xx is 503 broker-unavailable with Retry-After", async () => {
    const id = await create(kiwoomBody());
    server.sandbox.sandbox.configure({ failNext: ["server_error"] });
    const response = await server.call(`/accounts/${id}/token`);
    expect(response.headers.get("retry-after")).toBeTruthy();
    await expectProblem(response, 503, "broker-unavailable");
    expect(server.sandbox.sandbox.stats().faults.server_error).toBe(1);
  });

  test("a forced refresh answers the new expiry without the token", async () => {
    const id = await create(kiwoomBody());
    const first = tokenSchema.parse(await (await server.call(`/accounts/${id}/token`)).json());
    secrets.push(first.access_token);
    const response = await server.call(`/accounts/${id}/token/refresh`, {
      method: "POST",
      key: server.keys["token-writer"],
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(["expires_at", "token_type"]);
    const after = tokenSchema.parse(await (await server.call(`/accounts/${id}/token`)).json());
    secrets.push(after.access_token);
    expect(after.access_token).not.toBe(first.access_token);
  });

  test("a refresh the broker's pace does not allow yet is 503 with Retry-After", async () => {
    const id = await create(kisBody());
    secrets.push(
      tokenSchema.parse(await (await server.call(`/accounts/${id}/token`)).json()).access_token,
    );
    const response = await server.call(`/accounts/${id}/token/refresh`, { method: "POST" });
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
    const problem = await expectProblem(response, 503, "broker-rate-limited");
    expect(problem.retry_after_seconds).toBeGreaterThan(0);
  });

  test("a refresh the broker's pace does not allow yet says once when to ask again", async () => {
    const id = await create(kisBody());
    secrets.push(
      tokenSchema.parse(await (await server.call(`/accounts/${id}/token`)).json()).access_token,
    );
    const response = await server.call(`/accounts/${id}/token/refresh`, { method: "POST" });
    const problem = await expectProblem(response, 503, "broker-rate-limited");
    expect(problem.detail).toMatch(
      /^KIS allows one token issue per app key every 60 s\. Retry after \d+ s\.$/,
    );
  });

  test("invalidate marks the token so the next read issues a fresh one", async () => {
    const id = await create(kiwoomBody());
    const first = tokenSchema.parse(await (await server.call(`/accounts/${id}/token`)).json());
    secrets.push(first.access_token);
    const response = await server.call(`/accounts/${id}/token/invalidate`, { method: "POST" });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ invalidated: true });
    await new Promise((resolve) => setTimeout(resolve, 1600));
    const next = tokenSchema.parse(await (await server.call(`/accounts/${id}/token`)).json());
    secrets.push(next.access_token);
    expect(next.access_token).not.toBe(first.access_token);
  });

  test("invalidate with another token than the current one changes nothing", async () => {
    const id = await create(kiwoomBody());
    const first = tokenSchema.parse(await (await server.call(`/accounts/${id}/token`)).json());
    secrets.push(first.access_token);
    const stale = await post(`/accounts/${id}/token/invalidate`, {
      access_token: "an-older-token",
    });
    expect(await stale.json()).toEqual({ invalidated: false });
    const same = tokenSchema.parse(await (await server.call(`/accounts/${id}/token`)).json());
    expect(same.access_token).toBe(first.access_token);
  });

  test("invalidate with a body of the wrong shape is 400 naming the field", async () => {
    const id = await create(kiwoomBody());
    const problem = await expectProblem(
      await post(`/accounts/${id}/token/invalidate`, { access_token: 5 }),
      400,
      "validation",
    );
    expect(problem.errors?.[0]?.field).toBe("access_token");
  });

  test("token status lists securities accounts with totals for an accounts:read key", async () => {
    const response = await server.call("/tokens/status", { key: server.keys.reader });
    expect(response.status).toBe(200);
    const status = tokenStatusSchema.parse(await response.json());
    expect(status.totals.accounts).toBe(status.accounts.length);
    expect(status.accounts.length).toBeGreaterThan(0);
    await expectProblem(
      await server.call("/tokens/status", { key: server.keys["token-reader"] }),
      403,
      "forbidden",
    );
  });
});

describe("routing", () => {
  test("an unknown route is 404 route-not-found", async () => {
    await expectProblem(await server.call("/nope"), 404, "route-not-found");
  });

  test("a wrong method is 405 with Allow", async () => {
    const response = await server.call("/accounts", { method: "DELETE" });
    expect(response.headers.get("allow")).toBe("GET, POST, HEAD");
    await expectProblem(response, 405, "method-not-allowed");
    const put = await server.call("/accounts/1", { method: "PUT", body: "{}" });
    expect(put.headers.get("allow")).toBe("GET, PATCH, DELETE, HEAD");
    await expectProblem(put, 405, "method-not-allowed");
  });

  test("a wrong method on a broker path of several segments is 405 with Allow, not 404", async () => {
    const response = await server.call("/accounts/1/broker/uapi/domestic-stock/v1/quotations", {
      method: "DELETE",
    });
    expect(response.headers.get("allow")).toBe("GET, POST, HEAD");
    await expectProblem(response, 405, "method-not-allowed");
  });
});

describe("logs", () => {
  test("nothing logged during the suite contains a secret that was used", () => {
    const logs = server.logs();
    expect(logs.length).toBeGreaterThan(0);
    for (const value of secrets) expect(logs).not.toContain(value);
  });
});

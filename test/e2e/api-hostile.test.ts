import fc from "fast-check";
import { afterAll, beforeAll, expect, test } from "vitest";
import { PROBLEM_BASE, problemSchema } from "../../core/api";
import { EXPECTED_ROUTES } from "../support/routes";
import { startTestServer, type TestServer } from "../support/server";

let server: TestServer;
let kisId = 0;
let cryptoId = 0;

/** Percent-encodes; a lone surrogate becomes its raw (invalid UTF-8) bytes, which is hostile too. */
function encode(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return "%ED%A0%80";
  }
}

interface HostileRequest {
  method: string;
  path: string;
  body?: string;
  key?: string | null;
  /** Content-Type to send (null: none); application/json when a body is sent and this is absent. */
  contentType?: string | null;
  headers?: Record<string, string>;
  /** An unauthenticated read (GET /health, /openapi.json) may answer 200 to anything. */
  okAllowed?: boolean;
}

const KIS_BODY = {
  name: "KIS real",
  account_type: "SECURITIES_STOCK",
  exchange: "KIS",
  environment: "real",
  api_key: "PSfuzzappkey000001",
  api_secret: "fuzz-secret-000001",
  securities_config: {
    account_number: "12345678",
    product_code: "01",
    market_type: "DOMESTIC_STOCK",
    cert_password: "fuzz-cert-password",
  },
};

const sqlish = fc.constantFrom(
  "'; DROP TABLE accounts; --",
  "1 OR 1=1",
  "1; DELETE FROM securities_tokens",
  "' UNION SELECT api_secret FROM accounts --",
  "$1",
  "\\x00",
  "$" + "{jndi:ldap://x}",
  "<script>alert(1)</script>",
);
const hostileString = fc.oneof(
  sqlish,
  fc.string(),
  fc.string({ unit: "grapheme", maxLength: 200 }),
  fc.string({ minLength: 1100, maxLength: 3000 }),
  fc.constant("\u0000nul"),
  fc.constant("\uD800lone"),
);
/** Values of the wrong JSON type for a string field. */
const notAString = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
);

/** One change that makes a create body invalid, whatever else it holds. */
const breakCreate: fc.Arbitrary<(body: Record<string, unknown>) => void> = fc.oneof(
  fc
    .constantFrom("name", "account_type", "exchange", "api_key", "api_secret")
    .map((field) => (body: Record<string, unknown>) => {
      delete body[field];
    }),
  fc
    .tuple(fc.constantFrom("name", "exchange", "api_key", "api_secret", "environment"), notAString)
    .map(([field, value]) => (body: Record<string, unknown>) => {
      body[field] = value;
    }),
  fc
    .string({ minLength: 1, maxLength: 30 })
    .filter((exchange) => exchange !== "KIS" && exchange !== "KIWOOM")
    .map((exchange) => (body: Record<string, unknown>) => {
      body.exchange = exchange;
    }),
  fc
    .oneof(hostileString, fc.stringMatching(/^[0-9]{1,7}$/), fc.stringMatching(/^[0-9]{9,12}$/))
    .filter((number) => !/^[0-9]{8}$/.test(number))
    .map((number) => (body: Record<string, unknown>) => {
      (body.securities_config as Record<string, unknown>).account_number = number;
    }),
  fc
    .oneof(hostileString, notAString)
    .filter(
      (value) =>
        ![
          "DOMESTIC_STOCK",
          "OVERSEAS_STOCK",
          "DOMESTIC_FUTURES_OPTIONS",
          "OVERSEAS_FUTURES_OPTIONS",
        ].includes(value as string),
    )
    .map((value) => (body: Record<string, unknown>) => {
      (body.securities_config as Record<string, unknown>).market_type = value;
    }),
  fc
    .constantFrom("CRYPTO_FUTURES", "", "securities_stock", "STOCK")
    .map((type) => (body: Record<string, unknown>) => {
      body.account_type = type;
    }),
  fc.string({ minLength: 101, maxLength: 400 }).map((name) => (body: Record<string, unknown>) => {
    body.name = name;
  }),
  fc.constant((body: Record<string, unknown>) => {
    body.unexpected_field = "x";
  }),
  fc.constant((body: Record<string, unknown>) => {
    body.securities_config = "12345678-01";
  }),
  fc.constant((body: Record<string, unknown>) => {
    delete body.securities_config;
  }),
);

const createRequests: fc.Arbitrary<HostileRequest> = fc
  .tuple(breakCreate, fc.option(sqlish, { nil: undefined }))
  .map(([breakIt, name]) => {
    const body = structuredClone(KIS_BODY) as Record<string, unknown>;
    if (name !== undefined) body.name = name;
    breakIt(body);
    return { method: "POST", path: "/accounts", body: JSON.stringify(body) };
  });

const anyJson = fc.jsonValue().map((value) => JSON.stringify(value) ?? "null");
const brokenJson = fc.oneof(
  fc.constantFrom("{", "{'name': 'x'}", '{"name": }', "[1,2", "nul", '{"a":1}}', "\u0000", "NaN"),
  // Whitespace alone is no body by the API's contract (invalidate's body is optional), not broken JSON.
  fc.string({ minLength: 1 }).filter((text) => {
    if (text.trim() === "") return false;
    try {
      JSON.parse(text);
      return false;
    } catch {
      return true;
    }
  }),
);

const badId = fc.oneof(
  fc.constantFrom(
    "0",
    "-1",
    "00",
    "1.0",
    "1e3",
    "0x10",
    "2147483648",
    "99999999999999999999",
    "%27%20OR%201%3D1",
    "null",
    "%00",
  ),
  fc
    .string({ minLength: 1, maxLength: 20 })
    .filter((id) => !/^[1-9][0-9]{0,9}$/.test(id))
    .map((id) => encode(id)),
  sqlish.map((id) => encode(id)),
);

const patchBreak: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.constant({}),
  notAString.map((name) => ({ name })),
  fc.string({ minLength: 101, maxLength: 300 }).map((name) => ({ name })),
  notAString.filter((v) => typeof v !== "boolean").map((is_active) => ({ is_active })),
  fc.constantFrom("1234567890", "123456789", "abcdefgh", "1234-5678").map((account_number) => ({
    securities_config: { account_number },
  })),
  fc
    .constantFrom("02", "99", "1", "AB")
    .map((product_code) => ({ securities_config: { product_code } })),
  sqlish.map((field) => ({ [field]: "x", name: "valid but with an unknown field" })),
  fc.constantFrom("live", "REAL", "", "mock").map((environment) => ({ environment })),
);

/** Built after the seed accounts exist, so paths name them. */
const hostileRequests = (): fc.Arbitrary<HostileRequest> =>
  fc.oneof(
    { weight: 4, arbitrary: createRequests },
    {
      weight: 2,
      arbitrary: fc
        .oneof(anyJson, brokenJson)
        .map((body) => ({ method: "POST", path: "/accounts", body })),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(patchBreak, fc.boolean()).map(([patch, onKis]) => ({
        method: "PATCH",
        path: `/accounts/${onKis ? kisId : cryptoId}`,
        body: JSON.stringify(patch),
      })),
    },
    {
      weight: 1,
      arbitrary: brokenJson.map((body) => ({ method: "PATCH", path: `/accounts/${kisId}`, body })),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          badId,
          fc.constantFrom(
            "GET",
            "PATCH",
            "DELETE",
            "GET /token",
            "POST /token/refresh",
            "POST /token/invalidate",
          ),
        )
        .map(([id, route]) => {
          const [method, suffix = ""] = route.split(" ");
          return {
            method: method as string,
            path: `/accounts/${id}${suffix}`,
            body: method === "GET" ? undefined : '{"name":"x"}',
          };
        }),
    },
    {
      weight: 1,
      arbitrary: fc
        .oneof(hostileString, fc.constantFrom("crypto", "SECURITIES", ""))
        .map((type) => ({ method: "GET", path: `/accounts?type=${encode(type)}` })),
    },
    {
      weight: 1,
      arbitrary: fc
        .oneof(
          notAString.map((token) => JSON.stringify({ access_token: token })),
          brokenJson,
          fc.constant('{"access_token":""}'),
          fc.constant('{"token":"x"}'),
        )
        .map((body) => ({ method: "POST", path: `/accounts/${kisId}/token/invalidate`, body })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constantFrom("/accounts", `/accounts/${kisId}`, "/tokens/status"),
          fc.oneof(
            fc.constant(null),
            fc.constant("Bearer"),
            fc
              .oneof(sqlish, fc.string({ maxLength: 300 }))
              .filter((k) => /^[\x20-\x7e]*$/.test(k))
              .map((k) => `x.${k}`),
            fc.constant("test-admin.wrongwrongwrongwrong"),
          ),
        )
        .map(([path, key]) => ({ method: "GET", path, key })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constantFrom("PUT", "OPTIONS", "POST"),
          fc.constantFrom("/accounts", `/accounts/${kisId}`, "/health", "/tokens/status"),
        )
        .map(([method, path]) => ({ method, path })),
    },
  );

/** Printable ASCII only: fetch refuses other header values before they are sent. */
const headerValue = fc
  .oneof(sqlish, fc.string({ maxLength: 300 }), fc.string({ minLength: 1000, maxLength: 4000 }))
  .map((value) => value.replace(/[^\x20-\x7e]/g, "?"));

const contentType = fc.constantFrom(
  null,
  "application/json",
  "application/json; charset=utf-8",
  "application/json; charset=utf-16",
  "APPLICATION/JSON",
  "application/problem+json",
  "text/plain",
  "text/html",
  "application/xml",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=----x",
  "application/octet-stream",
  "application/json, text/plain",
  "",
  "*/*",
);

/** Headers a hostile client adds; none of them may change what a refused request does. */
const otherHeaders: fc.Arbitrary<Record<string, string>> = fc.dictionary(
  fc.constantFrom(
    "x-http-method-override",
    "x-method-override",
    "x-request-id",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-amzn-trace-id",
    "accept",
    "accept-language",
    "accept-encoding",
    "content-encoding",
    "if-none-match",
    "if-match",
    "range",
    "origin",
    "referer",
    "cookie",
    "user-agent",
    "x-api-key",
  ),
  fc.oneof(
    fc.constantFrom("DELETE", "PATCH", "gzip", "br", "*", "bytes=0-1", "text/html", "127.0.0.1"),
    headerValue,
  ),
  { maxKeys: 4 },
);

/** What the gateway routes forward: real broker paths, traversal, encodings and junk. */
const brokerPath = fc.oneof(
  fc.constantFrom(
    "uapi/domestic-stock/v1/quotations/inquire-price",
    "uapi/domestic-stock/v1/trading/order-cash",
    "api/dostk/ordr",
    "oauth2/tokenP",
    "../../_sandbox/config",
    "%2e%2e/%2e%2e/_sandbox/reset-stats",
    "..%2F..%2Fetc%2Fpasswd",
    "a//b",
    "%00",
    "",
  ),
  hostileString.map((segment) => encode(segment)),
);

/**
 * Every route of the API with hostile path parameters, bodies, query
 * strings, content types and headers. Each request is one the API must
 * refuse: a bad id, or (for a real id, or a route without one) a missing,
 * unknown or out-of-scope key. The two unauthenticated reads may answer 200.
 */
const everyRoute = (): fc.Arbitrary<HostileRequest> =>
  fc
    .tuple(
      fc.constantFrom(...EXPECTED_ROUTES),
      fc.oneof(
        badId.map((id) => ({ id, real: false })),
        // Well-formed ids no account has.
        fc.constantFrom("999999", "2147483647").map((id) => ({ id, real: false })),
        fc.constantFrom(kisId, cryptoId).map((id) => ({ id: String(id), real: true })),
      ),
      fc.constantFrom<"none" | "unknown" | "malformed" | "out-of-scope">(
        "none",
        "unknown",
        "malformed",
        "out-of-scope",
      ),
      fc.option(fc.oneof(anyJson, brokenJson, hostileString), { nil: undefined }),
      fc.option(fc.tuple(hostileString, hostileString), { nil: undefined }),
      brokerPath,
    )
    .map(([[method, template, scope], id, keyKind, body, query, forwarded]) => {
      const hasId = template.includes("{id}");
      const path =
        template.replace("{id}", id.id).replace("{broker_path}", forwarded) +
        (query ? `?${encode(query[0])}=${encode(query[1])}` : "");
      // A route without a scope is open; a bad id is refused whoever asks (the admin here).
      const credentials =
        scope === null
          ? { key: null }
          : hasId && !id.real
            ? {}
            : refusedCredentials(keyKind, scope);
      return {
        method,
        path,
        ...(body !== undefined && method !== "GET" ? { body } : {}),
        ...credentials,
        okAllowed: scope === null,
      };
    });

/** Credentials the API must refuse for a route needing `scope`. */
function refusedCredentials(
  kind: "none" | "unknown" | "malformed" | "out-of-scope",
  scope: string,
): Pick<HostileRequest, "key" | "headers"> {
  switch (kind) {
    case "none":
      return { key: null };
    case "unknown":
      return { key: "test-admin.wrongwrongwrongwrongwrong" };
    case "malformed":
      return { key: null, headers: { authorization: "Basic dXNlcjpwYXNz" } };
    case "out-of-scope":
      // reader holds only accounts:read, token-reader only tokens:read.
      return { key: scope === "accounts:read" ? server.keys["token-reader"] : server.keys.reader };
  }
}

/** Adds a hostile content type and headers to a request (keeping its own headers). */
const withEnvelope = (requests: fc.Arbitrary<HostileRequest>): fc.Arbitrary<HostileRequest> =>
  fc
    .tuple(requests, fc.option(contentType, { nil: undefined }), otherHeaders)
    .map(([request, type, headers]) => ({
      ...request,
      ...(type !== undefined ? { contentType: type } : {}),
      headers: { ...headers, ...request.headers },
    }));

/**
 * A fingerprint of every table of the service (whatever the migrations
 * created, so a table added later is covered too) and of the broker
 * sandbox's counters: a refused request must change none of them.
 */
async function checksum(): Promise<string> {
  const tables = await server.db.sql<{ name: string }[]>`
    SELECT quote_ident(table_name) AS name FROM information_schema.tables
    WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`;
  expect(tables.map((t) => t.name)).toEqual(
    expect.arrayContaining([
      "accounts",
      "securities_tokens",
      "data_keys",
      "broker_issuance_slots",
      "securities_token_state",
      "securities_token_attempts",
      "securities_support_migrations",
    ]),
  );
  const parts: string[] = [];
  for (const { name } of tables) {
    const [row] = await server.db.sql.unsafe<{ rows: string | null }[]>(
      `SELECT string_agg(t::text, ',' ORDER BY t::text) AS rows FROM ${name} t`,
    );
    parts.push(`${name}:${row?.rows ?? ""}`);
  }
  parts.push(`sandbox:${JSON.stringify(server.sandbox.sandbox.stats())}`);
  return parts.join("\n");
}

beforeAll(async () => {
  server = await startTestServer({
    keys: { reader: ["accounts:read"], "token-reader": ["tokens:read"] },
  });
  const kis = await server.call("/accounts", { method: "POST", body: JSON.stringify(KIS_BODY) });
  kisId = ((await kis.json()) as { id: number }).id;
  const crypto = await server.call("/accounts", {
    method: "POST",
    body: JSON.stringify({
      name: "upbit",
      account_type: "CRYPTO",
      exchange: "upbit",
      api_key: "upbit-fuzz-key",
      api_secret: "upbit-fuzz-secret",
    }),
  });
  cryptoId = ((await crypto.json()) as { id: number }).id;
  // A token, so that the token table has a row whose checksum matters.
  expect((await server.call(`/accounts/${kisId}/token`)).status).toBe(200);
});

afterAll(async () => {
  await server?.stop();
});

test("1,500 malformed or hostile requests on every route each get a 4xx problem document and change nothing", async () => {
  const before = await checksum();
  const seen = new Map<number, number>();
  const routesHit = new Set<string>();
  await fc.assert(
    fc.asyncProperty(
      withEnvelope(
        fc.oneof(
          { weight: 3, arbitrary: hostileRequests() },
          { weight: 2, arbitrary: everyRoute() },
        ),
      ),
      async (request) => {
        const headers: Record<string, string> = { ...request.headers };
        const type =
          request.contentType === undefined
            ? request.body !== undefined
              ? "application/json"
              : null
            : request.contentType;
        if (type !== null) headers["content-type"] = type;
        const response = await server.call(request.path, {
          method: request.method,
          headers,
          ...(request.body !== undefined ? { body: request.body } : {}),
          ...(request.key !== undefined ? { key: request.key } : {}),
        });
        const text = await response.text();
        seen.set(response.status, (seen.get(response.status) ?? 0) + 1);
        routesHit.add(
          `${request.method} ${request.path
            .split("?")[0]
            ?.replace(/^\/accounts\/[^/]+/, "/accounts/{id}")
            .replace(/^\/accounts\/\{id\}\/broker\/.*$/, "/accounts/{id}/broker/{broker_path}")}`,
        );
        const what = `${request.method} ${request.path.slice(0, 200)} ${JSON.stringify(headers).slice(0, 300)} ${request.body?.slice(0, 200)} → ${text.slice(0, 300)}`;
        if (request.okAllowed && response.status === 200) return;
        expect(response.status, what).toBeGreaterThanOrEqual(400);
        expect(response.status, what).toBeLessThan(500);
        expect(response.headers.get("content-type"), what).toBe("application/problem+json");
        const problem = problemSchema.parse(JSON.parse(text));
        expect(problem.status).toBe(response.status);
        expect(problem.type.startsWith(PROBLEM_BASE)).toBe(true);
      },
    ),
    { numRuns: 1500 },
  );
  expect(await checksum()).toBe(before);
  // The run exercised validation, authentication, scopes and routing refusals…
  expect([...seen.keys()]).toEqual(expect.arrayContaining([400, 401, 403, 404, 405]));
  // …on every route.
  for (const [method, path] of EXPECTED_ROUTES) expect(routesHit).toContain(`${method} ${path}`);
});

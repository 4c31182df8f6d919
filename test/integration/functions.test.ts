/**
 * The Lambda entry files themselves (functions/api.ts, functions/refresh-tokens.ts),
 * imported the way Lambda loads them and invoked with the events AWS sends.
 * Everything behind them is real (Postgres, the broker sandbox over HTTP);
 * only the AWS SDK clients are mocked, at the boundary (KMS, Secrets Manager).
 */
import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { GenerateDataKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { generateApiKey } from "../../core/auth";
import { systemClock } from "../../core/clock";
import { lambdaBuildOptions } from "../../infra/bundle";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { dropEmfOutput } from "../support/emf";
import { fakeKms } from "../support/kms";
import { startTestBrokerSandbox, type TestBrokerSandbox } from "../support/sandbox";

const KEY_ID = "arn:aws:kms:ap-northeast-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const SECRET_ID = "arn:aws:secretsmanager:ap-northeast-2:111122223333:secret:api-keys";
const kms = mockClient(KMSClient);
const secrets = mockClient(SecretsManagerClient);
const admin = generateApiKey("fn-admin", ["admin"]);
const saved = { ...process.env };
/**
 * The functions write EMF metric lines to standard output on every
 * invocation, not only while their modules load: they are dropped for the
 * whole file (test/unit/metrics.test.ts checks their format), so the test
 * run's output stays readable.
 */
let restoreOutput: () => void;
let db: TestDatabase;
let broker: TestBrokerSandbox;
type ApiHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<unknown>;
let api: ApiHandler;
let refresh: (event: unknown, context?: Pick<Context, "awsRequestId">) => Promise<unknown>;

beforeAll(async () => {
  restoreOutput = dropEmfOutput();
  db = await createTestDatabase();
  broker = await startTestBrokerSandbox({
    clock: systemClock,
    env: { KIWOOM_MIN_ISSUE_INTERVAL_MS: "1000" },
  });
  fakeKms(kms, KEY_ID);
  secrets
    .on(GetSecretValueCommand, { SecretId: SECRET_ID })
    .resolves({ SecretString: JSON.stringify({ keys: [admin.record] }) });
  Object.assign(process.env, {
    ...broker.env,
    DATABASE_URL: db.url,
    KMS_KEY_ID: KEY_ID,
    API_KEYS_SECRET_ID: SECRET_ID,
    STAGE: "test",
    LOG_LEVEL: "silent",
    AWS_REGION: "ap-northeast-2",
  });
  // Quiet the EMF metric lines the functions write to standard output.
  vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  api = (await import("../../functions/api")).handler as unknown as ApiHandler;
  refresh = (await import("../../functions/refresh-tokens")).handler;
  vi.restoreAllMocks();
});
afterAll(async () => {
  restoreOutput();
  process.env = saved;
  kms.restore();
  secrets.restore();
  await broker?.stop();
  await db?.drop();
});

function event(method: string, path: string, body?: unknown): APIGatewayProxyEventV2 {
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: path,
    rawQueryString: "",
    headers: {
      authorization: `Bearer ${admin.key}`,
      ...(body ? { "content-type": "application/json" } : {}),
    },
    requestContext: {
      accountId: "111122223333",
      apiId: "api",
      domainName: "api.example.test",
      domainPrefix: "api",
      http: { method, path, protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "test" },
      requestId: `req-${randomBytes(4).toString("hex")}`,
      routeKey: "$default",
      stage: "$default",
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    isBase64Encoded: false,
    ...(body ? { body: JSON.stringify(body) } : {}),
  };
}

async function call(method: string, path: string, body?: unknown, handler: ApiHandler = api) {
  const result = (await handler(event(method, path, body), {
    awsRequestId: "lambda-request",
  } as Context)) as Exclude<APIGatewayProxyResultV2, string>;
  return { status: result.statusCode, body: JSON.parse(result.body ?? "null") };
}

function kiwoomAccount(name: string) {
  return {
    name,
    account_type: "SECURITIES_STOCK",
    exchange: "KIWOOM",
    environment: "real",
    api_key: `PS${randomBytes(12).toString("hex")}`,
    api_secret: `secret-${randomBytes(24).toString("base64url")}`,
    securities_config: {
      account_number: "5012345678",
      market_type: "DOMESTIC_STOCK",
      cert_password: "cert-pw-123",
      additional_params: {},
    },
  };
}

describe("functions/api.ts", () => {
  it("serves health, creates an account and hands out its token, with KMS and Secrets Manager mocked only", async () => {
    expect(await call("GET", "/health")).toMatchObject({
      status: 200,
      body: { status: "ok", database: "ok" },
    });
    const created = await call("POST", "/accounts", kiwoomAccount("fn-api"));
    expect(created.status).toBe(201);
    const token = await call("GET", `/accounts/${created.body.id}/token`);
    expect(token.status).toBe(200);
    expect(token.body.access_token).toMatch(/^kw-/);
    expect(broker.sandbox.stats().issued.total).toBe(1);
    // The key came from the secret; the data keys from KMS, with the service's context.
    expect(secrets.commandCalls(GetSecretValueCommand).length).toBeGreaterThan(0);
    const generated = kms.commandCalls(GenerateDataKeyCommand);
    expect(generated.length).toBeGreaterThan(0);
    expect(generated[0]?.args[0].input).toMatchObject({
      KeyId: KEY_ID,
      KeySpec: "AES_256",
      EncryptionContext: { service: "securities-support", purpose: "data-key" },
    });
  });

  it("answers 401 to a call without a key", async () => {
    const anonymous = event("GET", "/accounts");
    anonymous.headers = {};
    const result = (await api(anonymous, {} as Context)) as Exclude<
      APIGatewayProxyResultV2,
      string
    >;
    expect(result.statusCode).toBe(401);
  });
});

describe("functions/refresh-tokens.ts", () => {
  it("issues the token of an account that has none and returns the run's summary", async () => {
    const created = await call("POST", "/accounts", kiwoomAccount("fn-refresh"));
    expect(created.status).toBe(201);
    const issuedBefore = broker.sandbox.stats().issued.total;
    const summary = await refresh({}, { awsRequestId: "scheduled-run" });
    expect(summary).toMatchObject({ due: 1, claimed: 1, issued: 1, failed: 0 });
    expect(broker.sandbox.stats().issued.total).toBe(issuedBefore + 1);
    const [row] = await db.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM securities_tokens WHERE account_id = ${created.body.id}
    `;
    expect(row?.n).toBe(1);
  });
});

// The deployed API is an esbuild bundle (infra/bundle.ts, as SST builds it).
// This runs that bundle, not the sources, through a whole flow, so anything
// that bundling breaks fails here before a deploy.
describe("the bundled API function (esbuild as the deploy builds it)", () => {
  // Inside the project, so the bundle's bare imports (the SDK) resolve from its node_modules.
  const outfile = join(process.cwd(), `.bundle-test-api-${process.pid}.mjs`);
  let bundled: ApiHandler;

  beforeAll(async () => {
    await build(
      lambdaBuildOptions({
        entry: "functions/api.ts",
        outfile,
        // SST bundles the AWS SDK too; here it stays the test's own copy, so the
        // aws-sdk-client-mock mocks above are the clients the bundle calls.
        external: ["@aws-sdk/*", "@smithy/*"],
      }),
    );
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    try {
      bundled = (await import(pathToFileURL(outfile).href)).handler as ApiHandler;
    } finally {
      vi.restoreAllMocks();
    }
  });
  afterAll(async () => {
    await rm(outfile, { force: true });
  });

  it("serves health, the OpenAPI document, accounts (created, refused, paged), a token and a gateway call", async () => {
    expect(await call("GET", "/health", undefined, bundled)).toMatchObject({
      status: 200,
      body: { database: "ok" },
    });
    const document = await call("GET", "/openapi.json", undefined, bundled);
    expect(document.status).toBe(200);
    expect(document.body.openapi).toMatch(/^3\./);

    const refused = await call("POST", "/accounts", { name: "no type" }, bundled);
    expect(refused.status).toBe(400);
    expect(refused.body.code).toBe("validation_failed");

    const created = await call("POST", "/accounts", kiwoomAccount("fn-bundled"), bundled);
    expect(created.status).toBe(201);
    const id = created.body.id as number;
    const token = await call("GET", `/accounts/${id}/token`, undefined, bundled);
    expect(token.status).toBe(200);
    expect(token.body.token_type).toBe("Bearer");

    const quote = await bundled(
      {
        ...event("POST", `/accounts/${id}/broker/api/dostk/stkinfo`, { stk_cd: "005930" }),
        headers: {
          authorization: `Bearer ${admin.key}`,
          "content-type": "application/json",
          "api-id": "ka10001",
        },
      },
      { awsRequestId: "lambda-request" } as Context,
    );
    const answer = quote as Exclude<APIGatewayProxyResultV2, string>;
    expect(answer.statusCode).toBe(200);
    expect(JSON.parse(answer.body ?? "null")).toMatchObject({ stk_cd: "005930", return_code: 0 });

    const page = await call("GET", "/accounts", undefined, bundled);
    expect(page.status).toBe(200);
    expect(page.body.accounts.map((account: { id: number }) => account.id)).toContain(id);
  });
});

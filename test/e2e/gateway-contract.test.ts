/**
 * Who answered a gateway call, and what its body is, as the contract says:
 * the broker's own bodies (KIS rt_cd/msg_cd/msg1, Kiwoom return_code/
 * return_msg) are typed apart from our problem documents, per status, and
 * the x-answered-by header names who answered. Checked on the types
 * openapi-typescript generates, and at run time against the schemas the
 * document declares for each status and media type.
 */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import createClient from "openapi-fetch";
import { afterAll, beforeAll, describe, expect, expectTypeOf, test } from "vitest";
import * as z from "zod";
import { OPENAPI_JSON_PATH, OPENAPI_TYPES_PATH, openApiTypes } from "../../dev/openapi-cli";
import type { components, paths } from "../support/openapi-types";
import { startTestServer, type TestServer } from "../support/server";

const GATEWAY = "/accounts/{id}/broker/{broker_path}";
type GatewayAnswers = paths[typeof GATEWAY]["get"]["responses"];
type Schemas = components["schemas"];

let server: TestServer;
let document: {
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
  components: { schemas: Record<string, unknown> };
};

beforeAll(async () => {
  document = JSON.parse(await readFile(OPENAPI_JSON_PATH, "utf8"));
  // Pacing above the sandbox's own limits (KIS paper 2/s, Kiwoom mock 1/s),
  // so that a burst draws the brokers' own rate-limit answers.
  server = await startTestServer({
    env: {
      KIS_PAPER_CALLS_PER_SECOND: "50",
      KIWOOM_PAPER_CALLS_PER_SECOND: "50",
      KIWOOM_MIN_ISSUE_INTERVAL_MS: "1000",
    },
  });
});
afterAll(async () => {
  await server?.stop();
});

/** The schema the document declares for a gateway answer's status and media type, as a zod schema. */
function declared(status: number, mediaType: string): z.ZodType {
  const operation = document.paths[GATEWAY]?.get;
  const response = operation?.responses[String(status)] as
    | { content?: Record<string, { schema: unknown }> }
    | undefined;
  const schema = response?.content?.[mediaType]?.schema;
  if (!schema) throw new Error(`the contract declares no ${mediaType} answer at ${status}`);
  const local = (value: unknown) =>
    JSON.parse(JSON.stringify(value).replaceAll("#/components/schemas/", "#/$defs/"));
  return z.fromJSONSchema({ $defs: local(document.components.schemas), ...local(schema) });
}

function mediaType(response: Response): string {
  return (response.headers.get("content-type") ?? "").split(";")[0]?.trim() ?? "";
}

function client() {
  return createClient<paths>({
    baseUrl: server.url,
    headers: { authorization: `Bearer ${server.adminKey}` },
  });
}

async function paperAccount(exchange: "KIS" | "KIWOOM"): Promise<number> {
  const tag = randomBytes(8).toString("hex");
  const { data } = await client().POST("/accounts", {
    body: {
      name: `${exchange} ${tag}`,
      account_type: "SECURITIES_STOCK",
      exchange,
      environment: "paper",
      api_key: `${exchange === "KIS" ? "PS" : "kw"}${tag}`,
      api_secret: `secret-${tag}`,
      securities_config:
        exchange === "KIS"
          ? { account_number: "50123456", product_code: "01", market_type: "DOMESTIC_STOCK" }
          : { account_number: "5012345678", market_type: "DOMESTIC_STOCK" },
    },
  });
  if (!data) throw new Error("no account created");
  return data.id;
}

describe("the gateway's answers in the generated types", () => {
  test("the types openapi-typescript generates from openapi.json today are the ones this test compiles against", async () => {
    const generated = await openApiTypes(await readFile(OPENAPI_JSON_PATH, "utf8"));
    expect(generated).toBe(await readFile(OPENAPI_TYPES_PATH, "utf8"));
  });

  test("a broker's body and our problem are separate types at the statuses both can answer", () => {
    expectTypeOf<GatewayAnswers[200]["content"]["application/json"]>().toEqualTypeOf<
      Schemas["KisAnswer"] | Schemas["KiwoomAnswer"]
    >();
    expectTypeOf<GatewayAnswers[500]["content"]["application/json"]>().toEqualTypeOf<
      Schemas["BrokerAnswer"]
    >();
    expectTypeOf<GatewayAnswers[500]["content"]["application/problem+json"]>().toEqualTypeOf<
      Schemas["Problem"]
    >();
    expectTypeOf<GatewayAnswers[429]["headers"]["x-answered-by"]>().toEqualTypeOf<
      "broker" | "service"
    >();
    expectTypeOf<GatewayAnswers[409]["headers"]["x-answered-by"]>().toEqualTypeOf<"service">();
    expectTypeOf<Schemas["KisAnswer"]["msg_cd"]>().toEqualTypeOf<string>();
    expectTypeOf<Schemas["KiwoomAnswer"]["return_code"]>().toEqualTypeOf<number>();
  });
});

describe("the gateway's answers at run time, against the shapes the contract declares", () => {
  test("KIS's rate-limit answer (HTTP 500, EGW00201) is the broker's, matching KisAnswer and not Problem", async () => {
    const id = await paperAccount("KIS");
    const quote = () =>
      client().GET(GATEWAY, {
        params: {
          path: { id, broker_path: "uapi/domestic-stock/v1/quotations/inquire-price" },
          query: { broker_query: { FID_COND_MRKT_DIV_CODE: "J", FID_INPUT_ISCD: "005930" } },
          header: { tr_id: "FHKST01010100" },
        },
      });
    await quote();
    const burst = await Promise.all(Array.from({ length: 8 }, quote));
    const limited = burst.find((answer) => answer.response.status === 500);
    if (!limited) throw new Error("the sandbox did not rate-limit the burst");
    expect(limited.response.headers.get("x-answered-by")).toBe("broker");
    expect(mediaType(limited.response)).toBe("application/json");
    expect(limited.error).toMatchObject({ rt_cd: "1", msg_cd: "EGW00201" });
    expect(declared(500, "application/json").safeParse(limited.error).success).toBe(true);
    expect(declared(500, "application/problem+json").safeParse(limited.error).success).toBe(false);
    const ok = burst.find((answer) => answer.response.status === 200);
    expect(ok?.response.headers.get("x-answered-by")).toBe("broker");
    expect(declared(200, "application/json").safeParse(ok?.data).success).toBe(true);
  });

  test("Kiwoom's rate-limit answer (HTTP 429, 1700) is the broker's, matching KiwoomAnswer and not Problem", async () => {
    const id = await paperAccount("KIWOOM");
    const info = () =>
      client().POST(GATEWAY, {
        params: { path: { id, broker_path: "api/dostk/stkinfo" }, header: { "api-id": "ka10001" } },
        body: { stk_cd: "005930" },
      });
    await info();
    const burst = await Promise.all(Array.from({ length: 4 }, info));
    const limited = burst.find((answer) => answer.response.status === 429);
    if (!limited) throw new Error("the sandbox did not rate-limit the burst");
    expect(limited.response.headers.get("x-answered-by")).toBe("broker");
    expect(limited.error).toMatchObject({ return_code: 5 });
    expect(declared(429, "application/json").safeParse(limited.error).success).toBe(true);
    expect(declared(429, "application/problem+json").safeParse(limited.error).success).toBe(false);
  });

  test("our refusal of a KIS call without tr_id is a problem from the service, matching Problem and not a broker body", async () => {
    const id = await paperAccount("KIS");
    const refused = await client().GET(GATEWAY, {
      params: { path: { id, broker_path: "uapi/domestic-stock/v1/quotations/inquire-price" } },
    });
    expect(refused.response.status).toBe(400);
    expect(refused.response.headers.get("x-answered-by")).toBe("service");
    expect(mediaType(refused.response)).toBe("application/problem+json");
    expect(refused.error).toMatchObject({
      status: 400,
      errors: [{ field: "tr_id", message: expect.stringContaining("KIS paper") }],
    });
    expect(declared(400, "application/problem+json").safeParse(refused.error).success).toBe(true);
    expect(declared(400, "application/json").safeParse(refused.error).success).toBe(false);
  });

  test("every gateway answer says who answered, the service's 401, 404 and 413 included", async () => {
    const anonymous = await fetch(`${server.url}/accounts/1/broker/uapi/x/y`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("x-answered-by")).toBe("service");
    const missing = await server.call("/accounts/999999/broker/uapi/x/y", {
      headers: { tr_id: "FHKST01010100" },
    });
    expect(missing.status).toBe(404);
    expect(missing.headers.get("x-answered-by")).toBe("service");
    const tooLarge = await server.call("/accounts/1/broker/api/dostk/stkinfo", {
      method: "POST",
      headers: { "api-id": "ka10001", "content-type": "application/json" },
      body: JSON.stringify({ stk_cd: "x".repeat(70 * 1024) }),
    });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.headers.get("x-answered-by")).toBe("service");
    const elsewhere = await server.call("/tokens/status");
    expect(elsewhere.headers.get("x-answered-by")).toBeNull();
  });
});

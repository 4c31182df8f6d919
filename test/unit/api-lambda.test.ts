import type { APIGatewayProxyEventV2, Context } from "aws-lambda";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { handleHttpApi } from "../../core/api";

function event(
  overrides: Partial<APIGatewayProxyEventV2> & { method?: string },
): APIGatewayProxyEventV2 {
  const { method = "GET", ...rest } = overrides;
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: "/",
    rawQueryString: "",
    headers: {},
    isBase64Encoded: false,
    requestContext: {
      accountId: "123456789012",
      apiId: "a1",
      domainName: "api.example.com",
      domainPrefix: "api",
      http: {
        method,
        path: rest.rawPath ?? "/",
        protocol: "HTTP/1.1",
        sourceIp: "203.0.113.9",
        userAgent: "t",
      },
      requestId: "gw-1",
      routeKey: "$default",
      stage: "$default",
      time: "26/Nov/2026:22:00:00 +0000",
      timeEpoch: 1_795_000_000_000,
    },
    ...rest,
  };
}

const echo = new Hono<{ Bindings: { requestContext: { requestId: string } } }>()
  .all("/echo/:id", async (c) =>
    c.json({
      method: c.req.method,
      id: c.req.param("id"),
      query: c.req.queries("a"),
      header: c.req.header("x-request-id"),
      cookie: c.req.header("cookie"),
      body: await c.req.text(),
      url: c.req.url,
      gatewayRequestId: c.env.requestContext.requestId,
    }),
  )
  .get(
    "/binary",
    () =>
      new Response(new Uint8Array([0, 1, 254, 255]), {
        headers: { "content-type": "application/octet-stream" },
      }),
  )
  .get("/cookie", (c) => {
    c.header("set-cookie", "a=1", { append: true });
    c.header("set-cookie", "b=2", { append: true });
    return c.body(null, 204);
  });

const handler = handleHttpApi(echo);
const context = {} as Context;

describe("the HTTP API adapter", () => {
  it("passes method, path, repeated query values, headers, cookies and the gateway's context to the app", async () => {
    const result = await handler(
      event({
        method: "POST",
        rawPath: "/echo/42",
        rawQueryString: "a=1&a=2",
        headers: { "x-request-id": "r-1", "content-type": "application/json" },
        cookies: ["s=1", "t=2"],
        body: '{"k":"v"}',
      }),
      context,
    );
    expect(result.statusCode).toBe(200);
    expect(result.isBase64Encoded).toBe(false);
    expect(result.headers?.["content-type"]).toMatch(/^application\/json/);
    expect(JSON.parse(result.body as string)).toEqual({
      method: "POST",
      id: "42",
      query: ["1", "2"],
      header: "r-1",
      cookie: "s=1; t=2",
      body: '{"k":"v"}',
      url: "https://api.example.com/echo/42?a=1&a=2",
      gatewayRequestId: "gw-1",
    });
  });

  it("decodes a base64 body as API Gateway sends one", async () => {
    const result = await handler(
      event({
        method: "PUT",
        rawPath: "/echo/7",
        body: Buffer.from("héllo").toString("base64"),
        isBase64Encoded: true,
      }),
      context,
    );
    expect(JSON.parse(result.body as string).body).toBe("héllo");
  });

  it("answers a binary body base64-encoded, and set-cookie headers as cookies", async () => {
    const binary = await handler(event({ rawPath: "/binary" }), context);
    expect(binary).toMatchObject({
      isBase64Encoded: true,
      body: Buffer.from([0, 1, 254, 255]).toString("base64"),
    });
    const cookies = await handler(event({ rawPath: "/cookie" }), context);
    expect(cookies).toMatchObject({ statusCode: 204, cookies: ["a=1", "b=2"], body: "" });
    expect(cookies.headers?.["set-cookie"]).toBeUndefined();
  });

  it("returns only once the work the app left running after its answer is done (Lambda freezes after)", async () => {
    const order: string[] = [];
    let finish: () => void = () => {};
    const afterAnswer = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const waiting = handleHttpApi(echo, async () => {
      order.push("settling");
      await afterAnswer;
      order.push("settled");
    })(event({ rawPath: "/echo/1" }), context).then((result) => {
      order.push("returned");
      return result;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(order).toEqual(["settling"]);
    finish();
    expect((await waiting).statusCode).toBe(200);
    expect(order).toEqual(["settling", "settled", "returned"]);
  });
});

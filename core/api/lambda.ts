/**
 * API Gateway HTTP API (payload 2.0) events to the app and back.
 *
 * Written here rather than taken from `hono/aws-lambda`: that adapter serves
 * every Lambda event shape (REST v1, ALB, VPC Lattice, streaming); ours has
 * one deployment, an HTTP API sending payload 2.0, and JSON answers. (Hono also
 * deprecates that module for v5.) The app gets the same `c.env` as there:
 * `{ event, requestContext, lambdaContext }`.
 */
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from "aws-lambda";

/** What the adapter needs of an app: Hono's `fetch`. */
export interface FetchApp {
  fetch(request: Request, env: unknown): Response | Promise<Response>;
}

export type HttpApiHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

/** Content types answered as text; anything else goes back base64-encoded. */
const TEXT = /^(text\/|application\/([\w.+-]*\+)?(json|xml|javascript|x-www-form-urlencoded))/;

/**
 * A Lambda handler for an HTTP API (payload 2.0) that runs `app`;
 * `settled`, when given, is awaited before each return: work the app left
 * running after its answer (the gateway's audit), which a frozen Lambda would not finish.
 */
export function handleHttpApi(app: FetchApp, settled?: () => Promise<unknown>): HttpApiHandler {
  return async (event, lambdaContext) => {
    const headers = new Headers();
    for (const [name, value] of Object.entries(event.headers ?? {})) {
      if (value !== undefined) headers.set(name, value);
    }
    if (event.cookies?.length) headers.set("cookie", event.cookies.join("; "));
    const { http, domainName } = event.requestContext;
    const query = event.rawQueryString ? `?${event.rawQueryString}` : "";
    const hasBody = event.body !== undefined && http.method !== "GET" && http.method !== "HEAD";
    const request = new Request(`https://${domainName}${event.rawPath}${query}`, {
      method: http.method,
      headers,
      ...(hasBody
        ? { body: Buffer.from(event.body as string, event.isBase64Encoded ? "base64" : "utf8") }
        : {}),
    });
    const response = await app.fetch(request, {
      event,
      requestContext: event.requestContext,
      lambdaContext,
    });
    const answerHeaders: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      if (name !== "set-cookie") answerHeaders[name] = value;
    });
    const cookies = response.headers.getSetCookie();
    const text = TEXT.test(response.headers.get("content-type") ?? "text/plain");
    const body = Buffer.from(await response.arrayBuffer());
    await settled?.();
    return {
      statusCode: response.status,
      headers: answerHeaders,
      ...(cookies.length ? { cookies } : {}),
      body: body.toString(text ? "utf8" : "base64"),
      isBase64Encoded: !text,
    };
  };
}

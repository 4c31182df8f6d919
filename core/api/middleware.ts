import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Authenticator, Scope } from "../auth";
import { type Logger, withLogContext } from "../log";
import type { ApiDependencies, AppEnv } from "./context";
import { PayloadTooLargeError } from "./problems";
import { ANSWERED_BY } from "./routes";

/** API Gateway's integration timeout for HTTP APIs, which a function cannot raise. */
export const API_GATEWAY_TIMEOUT_MS = 29_000;

export const DEFAULT_BODY_LIMIT_BYTES = 64 * 1024;

/** A caller's `x-request-id` is kept only if it looks like an id: no spaces, quotes or control characters. */
const WELL_FORMED_REQUEST_ID = /^[A-Za-z0-9._:+=/-]{1,128}$/;

/** The caller's request id if well-formed, else the platform's, else a new UUID. */
export function chooseRequestId(given: string | undefined, platform: string | undefined): string {
  if (given && WELL_FORMED_REQUEST_ID.test(given)) return given;
  if (platform && WELL_FORMED_REQUEST_ID.test(platform)) return platform;
  return crypto.randomUUID();
}

/**
 * The request's id and deadline. It runs first: every later line of the
 * request, the problem documents included, carries the id.
 */
export function requestContext(
  deps: Pick<ApiDependencies, "platformRequestId" | "requestTimeoutMs">,
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const requestId = chooseRequestId(
      c.req.header("x-request-id"),
      deps.platformRequestId?.(c.env),
    );
    c.set("requestId", requestId);
    c.set("deadline", new Date(Date.now() + (deps.requestTimeoutMs ?? API_GATEWAY_TIMEOUT_MS)));
    await withLogContext({ request_id: requestId }, next);
    c.res.headers.set("x-request-id", requestId);
  };
}

/** One log line per request: its method, path, status, duration and the caller's key id. */
export function requestLog(logger: Logger): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    await next();
    const caller = c.get("caller");
    logger.info(
      {
        event: "request",
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        duration_ms: Math.round((performance.now() - started) * 10) / 10,
        ...(caller ? { key_id: caller.keyId } : {}),
      },
      "request",
    );
  };
}

/**
 * Paths are strict: "/accounts/" (and "/accounts/.", which the URL parser
 * makes of it) is no route. A broker path's own form is judged by the gateway.
 */
export const strictPaths: MiddlewareHandler<AppEnv> = async (c, next) => {
  const { path } = c.req;
  if (path.length > 1 && path.endsWith("/") && !path.includes("/broker/")) return c.notFound();
  await next();
};

/**
 * Who answered a gateway call: the broker (its status and body, passed on)
 * or the service (a problem document), whatever the status. The broker's
 * answers carry the header already.
 */
export const markAnsweredBy: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  if (!c.res.headers.has(ANSWERED_BY)) c.res.headers.set(ANSWERED_BY, "service");
};

/** A route's caller holds a key with the route's scope; no check on routes without one. */
export function authorize(auth: Authenticator, scope: Scope | null): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (scope) {
      const caller = await auth.authenticate(c.req.header("authorization"));
      c.set("caller", caller);
      auth.require(caller, scope);
    }
    await next();
  };
}

/**
 * Bytes are counted as they arrive and reading stops at the limit (a
 * declared length is refused before anything is read). It runs after
 * authentication: an unauthenticated request is refused unread.
 */
export function limitBody(maxBytes: number): MiddlewareHandler<AppEnv> {
  return bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new PayloadTooLargeError(maxBytes);
    },
  });
}

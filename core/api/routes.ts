import type { Scope } from "../auth";

export type Method = "GET" | "POST" | "PATCH" | "DELETE";

/** The one path parameter that spans several segments: the broker's own path and query. */
export const BROKER_PATH_PARAM = "{broker_path}";

/** The header on every answer of the gateway's routes saying who answered: `broker` or `service`. */
export const ANSWERED_BY = "x-answered-by";

/**
 * One route of the public contract: what the app registers. Its
 * documentation is in openapi-route-docs.ts.
 */
export interface RouteSpec {
  operationId: string;
  method: Method;
  /** OpenAPI form: `/accounts/{id}`. */
  path: string;
  /** The scope a key needs; null for routes without auth. */
  scope: Scope | null;
}

/** All routes, in the order the document lists them. */
export const ROUTES = [
  { operationId: "getHealth", method: "GET", path: "/health", scope: null },
  { operationId: "getOpenApi", method: "GET", path: "/openapi.json", scope: null },
  { operationId: "listAccounts", method: "GET", path: "/accounts", scope: "accounts:read" },
  { operationId: "createAccount", method: "POST", path: "/accounts", scope: "accounts:write" },
  { operationId: "getAccount", method: "GET", path: "/accounts/{id}", scope: "accounts:read" },
  {
    operationId: "updateAccount",
    method: "PATCH",
    path: "/accounts/{id}",
    scope: "accounts:write",
  },
  {
    operationId: "deleteAccount",
    method: "DELETE",
    path: "/accounts/{id}",
    scope: "accounts:write",
  },
  { operationId: "getToken", method: "GET", path: "/accounts/{id}/token", scope: "tokens:read" },
  {
    operationId: "refreshToken",
    method: "POST",
    path: "/accounts/{id}/token/refresh",
    scope: "tokens:write",
  },
  {
    operationId: "invalidateToken",
    method: "POST",
    path: "/accounts/{id}/token/invalidate",
    scope: "tokens:write",
  },
  {
    operationId: "getWebsocketKey",
    method: "GET",
    path: "/accounts/{id}/websocket-key",
    scope: "tokens:read",
  },
  { operationId: "getTokenStatus", method: "GET", path: "/tokens/status", scope: "accounts:read" },
  {
    operationId: "callBrokerGet",
    method: "GET",
    path: `/accounts/{id}/broker/${BROKER_PATH_PARAM}`,
    scope: "broker:call",
  },
  {
    operationId: "callBrokerPost",
    method: "POST",
    path: `/accounts/{id}/broker/${BROKER_PATH_PARAM}`,
    scope: "broker:call",
  },
  {
    operationId: "getOrder",
    method: "GET",
    path: "/accounts/{id}/orders/{key}",
    scope: "broker:call",
  },
  {
    operationId: "getBrokerCallStatus",
    method: "GET",
    path: "/broker/status",
    scope: "accounts:read",
  },
] as const satisfies readonly RouteSpec[];

export type OperationId = (typeof ROUTES)[number]["operationId"];

/** The methods that exist on a concrete path, for 405 answers; empty when the path is unknown. */
export function allowedMethods(path: string): Method[] {
  const methods: Method[] = [];
  for (const route of ROUTES as readonly RouteSpec[]) {
    if (patternOf(route.path).test(path)) methods.push(route.method);
  }
  if (methods.includes("GET")) methods.push("HEAD" as Method);
  return methods;
}

const patterns = new Map<string, RegExp>();
function patternOf(path: string): RegExp {
  let pattern = patterns.get(path);
  if (!pattern) {
    // The broker's own path spans segments; every other parameter is one segment.
    pattern = new RegExp(
      `^${path.replace(BROKER_PATH_PARAM, ".+").replace(/\{[^}]+\}/g, "[^/]+")}$`,
    );
    patterns.set(path, pattern);
  }
  return pattern;
}

/** Whether a route goes through the gateway: its path carries the broker's own. */
export function isGatewayRoute(route: { path: string }): boolean {
  return route.path.includes(BROKER_PATH_PARAM);
}

/** A route's path as Hono matches it: `{id}` → `:id`, the broker path → `*`. */
export function honoPath(route: { path: string }): string {
  return route.path.replace(BROKER_PATH_PARAM, "*").replace(/\{(\w+)\}/g, ":$1");
}

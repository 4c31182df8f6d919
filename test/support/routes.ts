/**
 * Every route the API serves, written out rather than read from
 * core/api/routes.ts: a route added, removed or re-scoped in the code fails
 * the tests that use this list (api.test.ts, api-hostile.test.ts) until it
 * says so too.
 */
export const EXPECTED_ROUTES: [method: string, path: string, scope: string | null][] = [
  ["GET", "/health", null],
  ["GET", "/openapi.json", null],
  ["GET", "/accounts", "accounts:read"],
  ["POST", "/accounts", "accounts:write"],
  ["GET", "/accounts/{id}", "accounts:read"],
  ["PATCH", "/accounts/{id}", "accounts:write"],
  ["DELETE", "/accounts/{id}", "accounts:write"],
  ["GET", "/accounts/{id}/token", "tokens:read"],
  ["POST", "/accounts/{id}/token/refresh", "tokens:write"],
  ["POST", "/accounts/{id}/token/invalidate", "tokens:write"],
  ["GET", "/accounts/{id}/websocket-key", "tokens:read"],
  ["GET", "/tokens/status", "accounts:read"],
  ["GET", "/accounts/{id}/broker/{broker_path}", "broker:call"],
  ["POST", "/accounts/{id}/broker/{broker_path}", "broker:call"],
  ["GET", "/accounts/{id}/orders/{key}", "broker:call"],
  ["GET", "/broker/status", "accounts:read"],
];

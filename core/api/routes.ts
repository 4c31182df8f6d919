import type * as z from "zod/mini";
import { createAccountSchema, updateAccountSchema } from "../accounts";
import type { Scope } from "../auth";
import {
  accountListSchema,
  healthSchema,
  invalidateRequestSchema,
  invalidateResponseSchema,
  publicAccountSchema,
  refreshedTokenSchema,
  tokenSchema,
  tokenStatusSchema,
} from "./schemas";

export type Method = "GET" | "POST" | "PATCH" | "DELETE";

/** One route of the public contract: the app registers it, the OpenAPI document describes it. */
export interface RouteSpec {
  operationId: string;
  method: Method;
  /** OpenAPI form: `/accounts/{id}`. */
  path: string;
  summary: string;
  /** The scope a key needs; null for routes without auth. */
  scope: Scope | null;
  query?: { name: string; values: readonly string[]; description: string }[];
  body?: { schema: z.ZodMiniType; required: boolean };
  response: { status: number; description: string; schema?: z.ZodMiniType };
  /** Problem statuses this route can answer besides the common ones (401, 403, 413, 500). */
  errors: number[];
}

/** All routes, in the order the document lists them. */
export const ROUTES = [
  {
    operationId: "getHealth",
    method: "GET",
    path: "/health",
    summary: "Service and database reachability (no key needed).",
    scope: null,
    response: {
      status: 200,
      description: "Healthy; 503 with the same body when the database is unreachable.",
      schema: healthSchema,
    },
    errors: [],
  },
  {
    operationId: "getOpenApi",
    method: "GET",
    path: "/openapi.json",
    summary: "This document (no key needed).",
    scope: null,
    response: { status: 200, description: "The OpenAPI 3.1 document." },
    errors: [],
  },
  {
    operationId: "listAccounts",
    method: "GET",
    path: "/accounts",
    summary: "List accounts, optionally of one type.",
    scope: "accounts:read",
    query: [
      {
        name: "type",
        values: ["CRYPTO", "SECURITIES_STOCK"],
        description: "Only accounts of this account_type.",
      },
    ],
    response: { status: 200, description: "The accounts, redacted.", schema: accountListSchema },
    errors: [400],
  },
  {
    operationId: "createAccount",
    method: "POST",
    path: "/accounts",
    summary:
      "Create a CRYPTO or SECURITIES_STOCK account; secrets are encrypted before they are stored.",
    scope: "accounts:write",
    body: { schema: createAccountSchema, required: true },
    response: {
      status: 201,
      description: "The new account, redacted.",
      schema: publicAccountSchema,
    },
    errors: [400],
  },
  {
    operationId: "getAccount",
    method: "GET",
    path: "/accounts/{id}",
    summary: "One account, redacted.",
    scope: "accounts:read",
    response: { status: 200, description: "The account.", schema: publicAccountSchema },
    errors: [400, 404],
  },
  {
    operationId: "updateAccount",
    method: "PATCH",
    path: "/accounts/{id}",
    summary:
      "Change an account. Changing its broker credentials revokes the token issued with the old ones.",
    scope: "accounts:write",
    body: { schema: updateAccountSchema, required: true },
    response: {
      status: 200,
      description: "The account after the change.",
      schema: publicAccountSchema,
    },
    errors: [400, 404],
  },
  {
    operationId: "deleteAccount",
    method: "DELETE",
    path: "/accounts/{id}",
    summary: "Delete an account and its token; the token is revoked at the broker (best effort).",
    scope: "accounts:write",
    response: { status: 204, description: "Deleted." },
    errors: [400, 404],
  },
  {
    operationId: "getToken",
    method: "GET",
    path: "/accounts/{id}/token",
    summary:
      "A valid broker access token for a securities account (issued if needed). The only route that returns a secret.",
    scope: "tokens:read",
    response: { status: 200, description: "The token.", schema: tokenSchema },
    errors: [400, 404, 409, 502, 503],
  },
  {
    operationId: "refreshToken",
    method: "POST",
    path: "/accounts/{id}/token/refresh",
    summary: "Issue a new token now (within the broker's issuance pace).",
    scope: "tokens:write",
    response: {
      status: 200,
      description: "The new token's type and expiry.",
      schema: refreshedTokenSchema,
    },
    errors: [400, 404, 409, 502, 503],
  },
  {
    operationId: "invalidateToken",
    method: "POST",
    path: "/accounts/{id}/token/invalidate",
    summary: "Report that the broker rejected the token; the next read issues a fresh one, once.",
    scope: "tokens:write",
    body: { schema: invalidateRequestSchema, required: false },
    response: {
      status: 200,
      description: "Whether a stored token was invalidated.",
      schema: invalidateResponseSchema,
    },
    errors: [400, 404, 409],
  },
  {
    operationId: "getTokenStatus",
    method: "GET",
    path: "/tokens/status",
    summary:
      "Token health per securities account and totals, for operators. Needs accounts:read: it shows no secret.",
    scope: "accounts:read",
    response: { status: 200, description: "Token status.", schema: tokenStatusSchema },
    errors: [],
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
    pattern = new RegExp(`^${path.replace(/\{[^}]+\}/g, "[^/]+")}$`);
    patterns.set(path, pattern);
  }
  return pattern;
}

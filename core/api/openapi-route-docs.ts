/**
 * How each route is documented: its summary, parameters, bodies, answers and
 * the problem statuses it can answer. Kept apart from the route table, which
 * the app bundles: the document is prebuilt (`npm run openapi`), so none of
 * this (nor the response schemas) ships in the Lambda.
 */
import * as z from "zod/mini";
import { ACCOUNT_TYPES, createAccountSchema, updateAccountSchema } from "../accounts";
import { BROKER_ADAPTERS } from "../brokers";
import { BROKER_QUERY_PARAM } from "../gateway";
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from "./query";
import type { OperationId } from "./routes";
import {
  accountListSchema,
  brokerAnswerSchema,
  brokerCallBodySchema,
  brokerCallStatusSchema,
  brokerOtherAnswerSchema,
  healthSchema,
  invalidateRequestSchema,
  invalidateResponseSchema,
  orderSchema,
  publicAccountSchema,
  refreshedTokenSchema,
  tokenSchema,
  tokenStatusSchema,
  websocketKeySchema,
} from "./schemas";

// The request schema the app parses with carries no metadata of its own (it
// would ship in the Lambda bundle): the document names and describes it here.
z.globalRegistry.add(invalidateRequestSchema, {
  id: "InvalidateRequest",
  description:
    "Optional. With access_token, only that token is invalidated (a stale report about an older token changes nothing).",
});

/** How one route is documented. */
export interface RouteDoc {
  summary: string;
  query?: {
    name: string;
    schema: Record<string, unknown>;
    description: string;
    /** A free-form object's keys as the query's own names (`?A=1&B=2`). */
    style?: "form";
    explode?: true;
  }[];
  body?: { schema: z.ZodMiniType; required: boolean };
  response: { status: number; description: string; schema?: z.ZodMiniType };
  /** Problem statuses this route can answer besides the common ones (401, 403, 413, 500). */
  errors: number[];
  /** Request headers the route reads. */
  headers?: { name: string; description: string }[];
  /**
   * The gateway: statuses at which the broker's own body may come back (as
   * application/json, beside our problems as application/problem+json), and
   * the x-answered-by header on every answer.
   */
  brokerAnswers?: Record<number, { schema: z.ZodMiniType; description: string }>;
}

/** The headers a caller may send to a broker, as each adapter lists and describes them; then the service's own. */
const BROKER_HEADERS: RouteDoc["headers"] = [
  ...Object.values(BROKER_ADAPTERS).flatMap((adapter) =>
    Object.entries(adapter.calls.forwardedHeaders).map(([name, description]) => ({
      name,
      description,
    })),
  ),
  {
    name: "Idempotency-Key",
    description:
      'Required on order paths (KIS order-cash, order-credit, order-rvsecncl, order-resv, overseas order, order-rvsecncl, daytime-order; Kiwoom /api/dostk/ordr, /api/dostk/crdordr): 1–255 visible ASCII characters, the same for every retry of one order. Kept 24 hours. The same key and request replays the first answer (idempotent-replayed: true); see docs/api.md "Orders".',
  },
];

/** What the gateway's GET and POST routes share; each adds its method's last sentence. */
const BROKER_CALL_SUMMARY =
  "Call the account's broker through the service: the broker path follows /broker, its slashes plain or as %2F, and the broker's query parameters are the request's own (KIS under /uapi/, Kiwoom under /api/; anything else, /oauth2/…, `..` or other percent-escapes in the path, is a 400 naming the path and never sent). Each of the headers below is sent at most once, in plain ASCII, else 400; tr_id (KIS) or api-id (Kiwoom) is required, checked before any call slot is taken. The service adds the token and the broker's auth headers (KIS authorization, appkey, appsecret, custtype; Kiwoom authorization) and sends the call from its egress IP; only the headers below pass, never the caller's Authorization. Calls are paced per (broker, environment, app key) across every process: a call waits for its slot up to BROKER_CALL_MAX_WAIT_MS (5 s), else 429 with Retry-After. A token the broker rejects is invalidated, re-issued once for everyone and the call replayed once. The broker's status, JSON body and paging headers come back unchanged, as application/json with x-answered-by: broker; the service's own answers are problem documents (application/problem+json) with x-answered-by: service; a broker that does not answer is a 503 (unreachable) or 504 (timeout) problem.";

const BROKER_ANSWER = { schema: brokerAnswerSchema, description: "The broker's own answer" };

const BROKER_CALL_DOC = {
  headers: BROKER_HEADERS,
  query: [
    {
      name: BROKER_QUERY_PARAM,
      schema: { type: "object", additionalProperties: { type: "string" } },
      style: "form",
      explode: true,
      description:
        "The broker's own query parameters, sent on as the request's query string (?FID_COND_MRKT_DIV_CODE=J&FID_INPUT_ISCD=005930). Free-form strings: the broker's names are its contract. openapi-fetch's spelling, broker_query[NAME]=value, is read as NAME=value.",
    },
  ],
  brokerAnswers: {
    400: { ...BROKER_ANSWER, description: "Or the broker's own error with this status" },
    401: {
      schema: brokerOtherAnswerSchema,
      description: "Or the broker's own 401 (Kiwoom: a token still refused after one re-issue)",
    },
    403: {
      ...BROKER_ANSWER,
      description:
        "Or the broker's own refusal (KIS EGW00206 no permission, EGW00207 IP not registered)",
    },
    404: {
      schema: brokerOtherAnswerSchema,
      description: "Or the broker's own answer to a path it does not serve",
    },
    429: {
      ...BROKER_ANSWER,
      description: "Or the broker's own rate limit (Kiwoom 1700, return_code 5)",
    },
    500: {
      ...BROKER_ANSWER,
      description:
        "Or the broker's own error (KIS EGW00201 rate limit, EGW00121-00123 token errors)",
    },
  },
  response: {
    status: 200,
    description: "The broker's answer with its own status (which may be an error of the broker's).",
    schema: brokerAnswerSchema,
  },
  errors: [400, 404, 409, 422, 429, 502, 503, 504],
} satisfies Omit<RouteDoc, "summary">;

export const ROUTE_DOCS: Record<OperationId, RouteDoc> = {
  getHealth: {
    summary: "Service and database reachability (no key needed).",
    response: {
      status: 200,
      description: "Healthy; 503 with the same body when the database is unreachable.",
      schema: healthSchema,
    },
    errors: [],
  },
  getOpenApi: {
    summary: "This document (no key needed).",
    response: { status: 200, description: "The OpenAPI 3.1 document." },
    errors: [],
  },
  listAccounts: {
    summary: "List accounts by id, a page at a time, optionally of one type.",
    query: [
      {
        name: "type",
        schema: { type: "string", enum: [...ACCOUNT_TYPES] },
        description: "Only accounts of this account_type.",
      },
      {
        name: "limit",
        schema: { type: "integer", minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE },
        description: "Accounts per page.",
      },
      {
        name: "cursor",
        schema: { type: "string" },
        description: "The next_cursor of the previous page.",
      },
    ],
    response: {
      status: 200,
      description:
        "A page of accounts by id, redacted; an account that cannot be decrypted appears as its error.",
      schema: accountListSchema,
    },
    errors: [400],
  },
  createAccount: {
    summary:
      "Create a CRYPTO or SECURITIES_STOCK account; secrets are encrypted before they are stored.",
    body: { schema: createAccountSchema, required: true },
    response: {
      status: 201,
      description: "The new account, redacted.",
      schema: publicAccountSchema,
    },
    errors: [400],
  },
  getAccount: {
    summary: "One account, redacted.",
    response: { status: 200, description: "The account.", schema: publicAccountSchema },
    errors: [400, 404],
  },
  updateAccount: {
    summary:
      "Change an account. Changing its broker credentials revokes the token issued with the old ones.",
    body: { schema: updateAccountSchema, required: true },
    response: {
      status: 200,
      description: "The account after the change.",
      schema: publicAccountSchema,
    },
    errors: [400, 404],
  },
  deleteAccount: {
    summary: "Delete an account and its token; the token is revoked at the broker (best effort).",
    response: { status: 204, description: "Deleted." },
    errors: [400, 404],
  },
  getToken: {
    summary:
      "A valid broker access token for a securities account (issued if needed). The only route that returns a secret. Serves only callers whose own IP is registered with the broker; it can never serve Kiwoom to another host (Kiwoom binds a token to the IP that issued it, 8010): call the broker through /accounts/{id}/broker/… instead.",
    response: { status: 200, description: "The token.", schema: tokenSchema },
    errors: [400, 404, 409, 502, 503],
  },
  refreshToken: {
    summary:
      "Issue a new token now (within the broker's issuance pace). KIS: the current token is revoked first; 409 token_not_renewed if the broker still hands it back.",
    response: {
      status: 200,
      description: "The new token's type and expiry.",
      schema: refreshedTokenSchema,
    },
    errors: [400, 404, 409, 502, 503],
  },
  invalidateToken: {
    summary: "Report that the broker rejected the token; the next read issues a fresh one, once.",
    body: { schema: invalidateRequestSchema, required: false },
    response: {
      status: 200,
      description: "Whether a stored token was invalidated.",
      schema: invalidateResponseSchema,
    },
    errors: [400, 404, 409],
  },
  callBrokerGet: {
    ...BROKER_CALL_DOC,
    summary: `${BROKER_CALL_SUMMARY} GET is for the broker's GET endpoints (KIS quotations).`,
  },
  callBrokerPost: {
    ...BROKER_CALL_DOC,
    summary: `${BROKER_CALL_SUMMARY} POST carries the broker's JSON body (KIS orders, every Kiwoom call).`,
    body: { schema: brokerCallBodySchema, required: false },
  },
  getOrder: {
    summary:
      "An order sent through the gateway, by its Idempotency-Key: its state (in_flight, accepted, rejected, unknown, not_placed, ambiguous), the broker's order number and answer. An unknown outcome is reconciled from the broker's day orders on every read.",
    response: { status: 200, description: "The order.", schema: orderSchema },
    errors: [400, 404],
  },
  getBrokerCallStatus: {
    summary:
      "Calls through the broker gateway per account: counts and the last broker error; orders whose outcome is unknown or ambiguous. Needs accounts:read.",
    response: { status: 200, description: "Call status.", schema: brokerCallStatusSchema },
    errors: [],
  },
  getWebsocketKey: {
    summary:
      "The KIS websocket approval key of a securities account (issued if needed, cached, renewed before expiry). A secret: every read is logged with the caller's key id. Kiwoom accounts get 409: Kiwoom's websocket uses the access token.",
    response: { status: 200, description: "The approval key.", schema: websocketKeySchema },
    errors: [400, 404, 409, 502, 503],
  },
  getTokenStatus: {
    summary:
      "Token health per securities account and totals, for operators. Needs accounts:read: it shows no secret.",
    response: { status: 200, description: "Token status.", schema: tokenStatusSchema },
    errors: [],
  },
};

/** What each problem status means, for every route that can answer it. */
export const COMMON_ERRORS: Record<number, string> = {
  400: "Invalid request: the problem's errors name each offending field; malformed JSON also answers 400.",
  401: "Missing or unknown API key.",
  403: "The key lacks the route's scope.",
  404: "No such account.",
  405: "Wrong method for this path; Allow lists the right ones.",
  409: "The account is not a securities account with an app key and secret; or, on an order path, order_in_flight, order_reconciling or order_ambiguous (see the problem's code and Location).",
  422: "idempotency_key_reused: the Idempotency-Key was used for a different request.",
  413: "Body over the size limit.",
  500: "A bug; logged.",
  429: "The app key's call pace is booked further ahead than a call may wait; retry after Retry-After seconds. Nothing was sent.",
  502: "The broker rejected the request (broker_code says why); or order_outcome_unknown: the order was sent and its answer lost. Do not send it again under a new key: read the order (Location) or retry with the same key.",
  503: "The broker is rate limiting (Retry-After) or unavailable, or a dependency is down; or order_not_placed (retry with the same key).",
  504: "The broker did not answer in time.",
};

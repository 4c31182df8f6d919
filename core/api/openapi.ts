import * as z from "zod/mini";
import { createAccountSchema, updateAccountSchema } from "../accounts";
import { SCOPES } from "../auth";
import { BROKER_PATH_PARAM, type OperationId, ROUTES, type RouteSpec } from "./routes";
import {
  accountListSchema,
  brokerAnswerSchema,
  brokerCallBodySchema,
  brokerCallStatusSchema,
  healthSchema,
  invalidateRequestSchema,
  invalidateResponseSchema,
  orderSchema,
  problemSchema,
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
/**
 * How each route is documented. Kept apart from the route table, which the
 * app bundles: the document is prebuilt (`npm run openapi`), so none of this
 * (nor the response schemas) ships in the Lambda.
 */
interface RouteDoc {
  summary: string;
  query?: { name: string; schema: Record<string, unknown>; description: string }[];
  body?: { schema: z.ZodMiniType; required: boolean };
  response: { status: number; description: string; schema?: z.ZodMiniType };
  /** Problem statuses this route can answer besides the common ones (401, 403, 413, 500). */
  errors: number[];
  /** Request headers the route reads. */
  headers?: { name: string; description: string }[];
}

const BROKER_HEADERS: RouteDoc["headers"] = [
  {
    name: "tr_id",
    description:
      "KIS transaction id (FHKST01010100, TTTC0012U…). For a paper account a real trading id (T, J, C…) is sent as its V twin; quote ids pass unchanged.",
  },
  { name: "tr_cont", description: "KIS paging: N for the next page." },
  { name: "custtype", description: "KIS customer type, P (default) or B." },
  { name: "hashkey", description: "KIS hashkey of an order body (optional)." },
  { name: "gt_uid", description: "KIS global transaction id (optional)." },
  { name: "api-id", description: "Kiwoom TR id (ka10001, kt10000…)." },
  { name: "cont-yn", description: "Kiwoom paging: Y for the next page." },
  { name: "next-key", description: "Kiwoom paging key from the previous answer." },
  {
    name: "Idempotency-Key",
    description:
      'Required on order paths (KIS order-cash, order-credit, order-rvsecncl, order-resv, overseas order, order-rvsecncl, daytime-order; Kiwoom /api/dostk/ordr, /api/dostk/crdordr): 1–255 visible ASCII characters, the same for every retry of one order. Kept 24 hours. The same key and request replays the first answer (idempotent-replayed: true); see docs/api.md "Orders".',
  },
];

/** What the gateway's GET and POST routes share; each adds its method's last sentence. */
const BROKER_CALL_SUMMARY =
  "Call the account's broker through the service: the broker path and query follow /broker (KIS under /uapi/, Kiwoom under /api/; anything else, /oauth2/…, `..` or percent-escapes in the path, is a 400 and never sent). The service adds the token and the broker's auth headers (KIS authorization, appkey, appsecret, custtype; Kiwoom authorization) and sends the call from its egress IP; only the headers below pass, never the caller's Authorization. Calls are paced per (broker, environment, app key) across every process: a call waits for its slot up to BROKER_CALL_MAX_WAIT_MS (5 s), else 429 with Retry-After. A token the broker rejects is invalidated, re-issued once for everyone and the call replayed once. The broker's status, JSON body and paging headers come back unchanged; a broker that does not answer is a 503 (unreachable) or 504 (timeout) problem.";

const BROKER_CALL_DOC = {
  headers: BROKER_HEADERS,
  response: {
    status: 200,
    description: "The broker's answer with its own status (which may be an error of the broker's).",
    schema: brokerAnswerSchema,
  },
  errors: [400, 404, 409, 422, 429, 502, 503, 504],
} satisfies Omit<RouteDoc, "summary">;

const ROUTE_DOCS: Record<OperationId, RouteDoc> = {
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
        schema: { type: "string", enum: ["CRYPTO", "SECURITIES_STOCK"] },
        description: "Only accounts of this account_type.",
      },
      {
        name: "limit",
        schema: { type: "integer", minimum: 1, maximum: 500, default: 100 },
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

const COMMON_ERRORS: Record<number, string> = {
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

/**
 * Every body and response schema becomes one entry of components/schemas, named
 * by its zod `id` meta (or, lacking one, after its operation), and every use is a
 * `#/components/schemas/…` reference. zod's per-schema output would instead carry
 * its own `$defs` with `#/$defs/…` refs, which do not resolve once the schema is
 * embedded in an OpenAPI document.
 */
class SchemaComponents {
  private readonly registry = z.registry<{ id: string }>();

  /** A `$ref` to the schema's component, registering it on first use. */
  ref(schema: z.ZodMiniType, fallbackId: string): { $ref: string } {
    let id = this.registry.get(schema)?.id;
    if (!id) {
      id = (z.globalRegistry.get(schema)?.id as string | undefined) ?? fallbackId;
      this.registry.add(schema, { id });
    }
    return { $ref: `#/components/schemas/${id}` };
  }

  /** The components, sorted by name; nested schemas with an `id` meta are hoisted too. */
  build(): Record<string, unknown> {
    // A nested schema with a global `id` (Account inside AccountList) must be a
    // component of its own, else zod files it under a `__shared` pseudo-schema.
    for (const [id, schema] of z.globalRegistry._idmap) {
      if (!this.registry.has(schema) && !this.registry._idmap.has(id)) {
        this.registry.add(schema, { id });
      }
    }
    const { schemas } = z.toJSONSchema(this.registry, {
      io: "input",
      unrepresentable: "any",
      target: "draft-2020-12",
      uri: (id) => `#/components/schemas/${id}`,
    }) as { schemas: Record<string, Record<string, unknown>> };
    if ("__shared" in schemas) {
      throw new Error("zod produced shared $defs: give the reused schema an id meta");
    }
    const sorted: Record<string, unknown> = {};
    for (const id of Object.keys(schemas).sort()) {
      const { $schema: _ignored, $id: _id, ...rest } = schemas[id] as Record<string, unknown>;
      sorted[id] = rest;
    }
    return sorted;
  }
}

function pascal(operationId: string): string {
  return operationId.charAt(0).toUpperCase() + operationId.slice(1);
}

function operation(
  route: RouteSpec,
  doc: RouteDoc,
  components: SchemaComponents,
): Record<string, unknown> {
  const responses: Record<string, unknown> = {
    [doc.response.status]: {
      description: doc.response.description,
      ...(doc.response.schema
        ? {
            content: {
              "application/json": {
                schema: components.ref(doc.response.schema, `${pascal(route.operationId)}Response`),
              },
            },
          }
        : {}),
    },
  };
  const statuses = new Set<number>([...doc.errors, 413, 500]);
  if (route.scope) {
    statuses.add(401);
    statuses.add(403);
  }
  for (const status of [...statuses].sort()) {
    responses[status] = {
      description: COMMON_ERRORS[status] ?? "Problem",
      content: {
        "application/problem+json": { schema: components.ref(problemSchema, "Problem") },
      },
    };
  }
  const parameters: unknown[] = [];
  if (route.path.includes("{id}")) {
    parameters.push({
      name: "id",
      in: "path",
      required: true,
      description: "The account id, a positive 32-bit integer.",
      schema: { type: "integer", minimum: 1, maximum: 2147483647 },
    });
  }
  if (route.path.includes("{key}")) {
    parameters.push({
      name: "key",
      in: "path",
      required: true,
      description: "The order's Idempotency-Key (URL-encoded).",
      schema: { type: "string", minLength: 1, maxLength: 255 },
    });
  }
  if (route.path.includes(BROKER_PATH_PARAM)) {
    parameters.push({
      name: "broker_path",
      in: "path",
      required: true,
      description:
        "The broker's REST path (several segments) and query, e.g. uapi/domestic-stock/v1/quotations/inquire-price?FID_COND_MRKT_DIV_CODE=J&FID_INPUT_ISCD=005930 or api/dostk/stkinfo.",
      schema: { type: "string" },
      allowReserved: true,
    });
  }
  for (const header of doc.headers ?? []) {
    parameters.push({
      name: header.name,
      in: "header",
      required: false,
      description: header.description,
      schema: { type: "string" },
    });
  }
  for (const q of doc.query ?? []) {
    parameters.push({
      name: q.name,
      in: "query",
      required: false,
      description: q.description,
      schema: q.schema,
    });
  }
  return {
    operationId: route.operationId,
    summary: doc.summary,
    ...(route.scope
      ? { security: [{ apiKey: [route.scope] }], "x-required-scope": route.scope }
      : { security: [] }),
    ...(parameters.length ? { parameters } : {}),
    ...(doc.body
      ? {
          requestBody: {
            required: doc.body.required,
            content: {
              "application/json": {
                schema: components.ref(doc.body.schema, `${pascal(route.operationId)}Request`),
              },
            },
          },
        }
      : {}),
    responses,
  };
}

/** The OpenAPI 3.1 document of every route, generated from the route table and its zod schemas. */
export function buildOpenApiDocument(options: { version?: string; serverUrl?: string } = {}) {
  const paths: Record<string, Record<string, unknown>> = {};
  const components = new SchemaComponents();
  for (const route of ROUTES as readonly RouteSpec[]) {
    paths[route.path] ??= {};
    (paths[route.path] as Record<string, unknown>)[route.method.toLowerCase()] = operation(
      route,
      ROUTE_DOCS[route.operationId as OperationId],
      components,
    );
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "securities-support",
      version: options.version ?? "0.1.0",
      description:
        "Accounts of crypto exchanges and securities brokers (KIS, Kiwoom) and their broker access tokens. Errors are RFC 9457 problem documents.",
    },
    // "/" is the host that serves this document (OpenAPI resolves it against the document's URL).
    servers: [
      options.serverUrl
        ? { url: options.serverUrl }
        : { url: "/", description: "The host serving this document" },
    ],
    components: {
      securitySchemes: {
        apiKey: {
          type: "http",
          scheme: "bearer",
          description: `Authorization: Bearer <key id>.<secret>. Scopes: ${SCOPES.join(", ")} (admin implies all).`,
        },
      },
      schemas: components.build(),
    },
    paths,
  };
}

import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
// PatternRouter: plenty for a dozen routes.
import { Hono } from "hono/tiny";
import {
  ACCOUNT_TYPES,
  type AccountType,
  createAccount,
  deleteAccount,
  getAccount,
  listAccounts,
  parseCreateAccount,
  parseUpdateAccount,
  toFieldIssues,
  toPublicAccount,
  updateAccount,
} from "../accounts";
import type { Authenticator, Caller } from "../auth";
import type { Cipher } from "../crypto";
import type { Sql } from "../db";
import { NotFoundError, ValidationError } from "../errors";
import type { BrokerGateway } from "../gateway";
import { type Logger, withLogContext } from "../log";
import type { TokenService } from "../tokens";
import {
  MalformedJsonError,
  PayloadTooLargeError,
  type ProblemResponse,
  problem,
  toProblem,
} from "./problems";
import { invalidateRequestSchema } from "./request-schemas";
import { ANSWERED_BY, allowedMethods, BROKER_PATH_PARAM, type OperationId, ROUTES } from "./routes";

/** What the API calls of the token service (core/tokens). */
export type ApiTokenService = Pick<
  TokenService,
  | "getValidToken"
  | "forceRefresh"
  | "invalidate"
  | "revoke"
  | "retireToken"
  | "status"
  | "getApprovalKey"
>;

export interface ApiDependencies {
  sql: Sql;
  cipher: Cipher;
  tokens: ApiTokenService;
  auth: Authenticator;
  /** The brokers' one door (core/gateway). */
  gateway: BrokerGateway;
  logger: Logger;
  /** Largest accepted request body (default 64 KiB). */
  bodyLimitBytes?: number;
  /** Shown in the OpenAPI document. */
  version?: string;
  /**
   * The text of openapi.json (`npm run openapi` writes it), read on the first
   * GET /openapi.json. The document ships as a file, not in the bundle.
   */
  openApiDocument?: () => Promise<string>;
  /**
   * The request id to use when the caller sent none (or a malformed one):
   * in Lambda, API Gateway's, read from the adapter's `c.env`. A random UUID otherwise.
   */
  platformRequestId?: (env: unknown) => string | undefined;
  /**
   * How long a caller waits for an answer: API Gateway cuts every request
   * off at 29 s (default). A token request with too little of it left does
   * not start a broker issuance it could not hand over.
   */
  requestTimeoutMs?: number;
}

/** API Gateway's integration timeout for HTTP APIs, which a function cannot raise. */
export const API_GATEWAY_TIMEOUT_MS = 29_000;

type AppEnv = { Variables: { caller?: Caller; requestId: string; deadline: Date } };

/** A caller's `x-request-id` is kept only if it looks like an id: no spaces, quotes or control characters. */
const WELL_FORMED_REQUEST_ID = /^[A-Za-z0-9._:+=/-]{1,128}$/;

/** The caller's request id if well-formed, else the platform's, else a new UUID. */
export function chooseRequestId(given: string | undefined, platform: string | undefined): string {
  if (given && WELL_FORMED_REQUEST_ID.test(given)) return given;
  if (platform && WELL_FORMED_REQUEST_ID.test(platform)) return platform;
  return crypto.randomUUID();
}
type Handler = (c: Context<AppEnv>) => Promise<Response>;

export const DEFAULT_BODY_LIMIT_BYTES = 64 * 1024;
const MAX_ID = 2_147_483_647;

/**
 * The HTTP API as a Hono app: the same app runs behind API Gateway (Lambda
 * adapter) and in the local Node server. Handlers parse, call core, shape;
 * every error becomes a problem document in `onError` / `notFound`.
 */
export function createApp(deps: ApiDependencies): Hono<AppEnv> {
  const { sql, cipher, tokens, auth, gateway, logger } = deps;
  const limit = deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  const app = new Hono<AppEnv>();
  let openApi: Promise<unknown> | undefined;

  // First: every later line of the request, the problem documents included, carries its id.
  app.use("*", async (c, next) => {
    const requestId = chooseRequestId(
      c.req.header("x-request-id"),
      deps.platformRequestId?.(c.env),
    );
    c.set("requestId", requestId);
    c.set("deadline", new Date(Date.now() + (deps.requestTimeoutMs ?? API_GATEWAY_TIMEOUT_MS)));
    await withLogContext({ request_id: requestId }, next);
    c.res.headers.set("x-request-id", requestId);
  });
  app.use("*", async (c, next) => {
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
  });
  // Paths are strict: "/accounts/" (and "/accounts/.", which the URL parser
  // makes of it) is no route. A broker path's own form is judged by the gateway.
  app.use("*", async (c, next) => {
    const { path } = c.req;
    if (path.length > 1 && path.endsWith("/") && !path.includes("/broker/")) return c.notFound();
    await next();
  });
  // Who answered a gateway call: the broker (its status and body, passed on)
  // or the service (a problem document), whatever the status.
  for (const path of new Set(ROUTES.filter(isGatewayRoute).map(honoPath))) {
    app.use(path, async (c, next) => {
      await next();
      if (!c.res.headers.has(ANSWERED_BY)) c.res.headers.set(ANSWERED_BY, "service");
    });
  }
  // Bytes are counted as they arrive and reading stops at the limit (a
  // declared length is refused before anything is read). It runs after
  // authentication: an unauthenticated request is refused unread.
  const limitBody = bodyLimit({
    maxSize: limit,
    onError: () => {
      throw new PayloadTooLargeError(limit);
    },
  });

  const handlers: Record<OperationId, Handler> = {
    async getHealth(c) {
      let database: "ok" | "unreachable" = "ok";
      try {
        await sql`SELECT 1`;
      } catch (error) {
        database = "unreachable";
        logger.warn({ err: error }, "health check: database unreachable");
      }
      const healthy = database === "ok";
      return c.json(
        { status: healthy ? "ok" : "degraded", database, time: new Date().toISOString() },
        healthy ? 200 : 503,
      );
    },
    async getOpenApi(c) {
      const read = deps.openApiDocument;
      if (!read) {
        throw new NotFoundError(
          "openapi_not_served",
          "This server has no OpenAPI document to serve; openapi.json in the repository is the contract.",
        );
      }
      openApi ??= read()
        .then((text) => servedOpenApiDocument(text, deps.version))
        .catch((error: unknown) => {
          openApi = undefined;
          throw error;
        });
      return c.json(await openApi);
    },
    async listAccounts(c) {
      const type = accountTypeQuery(c.req.queries("type"));
      const limit = limitQuery(c.req.queries("limit"));
      const after = cursorQuery(c.req.queries("cursor"));
      const page = await listAccounts(sql, cipher, {
        limit,
        ...(type ? { type } : {}),
        ...(after ? { after } : {}),
      });
      return c.json({
        accounts: page.accounts.map((item) => ("error" in item ? item : toPublicAccount(item))),
        next_cursor: page.nextAfter === null ? null : encodeCursor(page.nextAfter),
      });
    },
    async createAccount(c) {
      const input = parseCreateAccount(await readJson(c));
      const account = await createAccount(sql, cipher, input);
      c.header("Location", `/accounts/${account.id}`);
      return c.json(toPublicAccount(account), 201);
    },
    async getAccount(c) {
      return c.json(toPublicAccount(await getAccount(sql, cipher, accountId(c))));
    },
    async updateAccount(c) {
      const id = accountId(c);
      const patch = parseUpdateAccount(await readJson(c));
      const result = await updateAccount(sql, cipher, id, patch);
      // New credentials or a deactivation: the stored token goes, and is
      // revoked at the broker unless an account on the same key still holds it.
      if (result.previousCredentials) {
        await tokens.retireToken(
          result.previousCredentials,
          result.deactivated ? "account_deactivated" : "credentials_changed",
        );
      }
      return c.json(toPublicAccount(result.account));
    },
    async deleteAccount(c) {
      const id = accountId(c);
      const deleted = await deleteAccount(sql, cipher, id);
      // After the commit: a broker that is down must not keep the account alive.
      if (deleted.revoke) {
        await tokens.revoke(
          deleted.revoke.credentials,
          deleted.revoke.accessToken,
          "account_deleted",
        );
      }
      return c.body(null, 204);
    },
    async getToken(c) {
      const id = accountId(c);
      const token = await tokens.getValidToken(id, { deadline: c.get("deadline") });
      logger.info(
        { event: "token_read", key_id: c.get("caller")?.keyId, account_id: id },
        "access token read",
      );
      c.header("Cache-Control", "no-store");
      return c.json({
        access_token: token.accessToken,
        token_type: token.tokenType,
        expires_at: token.expiresAt.toISOString(),
      });
    },
    async refreshToken(c) {
      const id = accountId(c);
      const token = await tokens.forceRefresh(id, { deadline: c.get("deadline") });
      logger.info(
        { event: "token_refresh", key_id: c.get("caller")?.keyId, account_id: id },
        "access token refreshed on request",
      );
      return c.json({ token_type: token.tokenType, expires_at: token.expiresAt.toISOString() });
    },
    async invalidateToken(c) {
      const id = accountId(c);
      const raw = await readJson(c);
      const parsed = invalidateRequestSchema.safeParse(raw === undefined ? {} : raw);
      if (!parsed.success) throw new ValidationError(toFieldIssues(parsed.error.issues));
      const result = await tokens.invalidate(id, parsed.data.access_token);
      logger.info(
        {
          event: "token_invalidate",
          key_id: c.get("caller")?.keyId,
          account_id: id,
          invalidated: result.invalidated,
        },
        "access token reported rejected",
      );
      return c.json({ invalidated: result.invalidated });
    },
    async getWebsocketKey(c) {
      const id = accountId(c);
      const key = await tokens.getApprovalKey(id);
      logger.info(
        { event: "websocket_key_read", key_id: c.get("caller")?.keyId, account_id: id },
        "websocket approval key read",
      );
      c.header("Cache-Control", "no-store");
      return c.json({ approval_key: key.approvalKey, expires_at: key.expiresAt.toISOString() });
    },
    async getTokenStatus(c) {
      return c.json(await tokens.status());
    },
    callBrokerGet: callBroker,
    callBrokerPost: callBroker,
    async getBrokerCallStatus(c) {
      return c.json(await gateway.status());
    },
    async getOrder(c) {
      const order = await gateway.order(accountId(c), c.req.param("key") ?? "", c.get("deadline"));
      c.header("Cache-Control", "no-store");
      return c.json(order);
    },
  };

  async function callBroker(c: Context<AppEnv>): Promise<Response> {
    const id = accountId(c);
    const method = c.req.method === "POST" ? "POST" : "GET";
    const { path } = c.req;
    const query = c.req.url.indexOf("?");
    // The body goes on as it is: the broker judges its own request (and answers its own error).
    const body = method === "POST" ? (await c.req.text()) || undefined : undefined;
    const answer = await gateway.call({
      accountId: id,
      method,
      target: path.slice(path.indexOf("/broker/") + 7) + (query < 0 ? "" : c.req.url.slice(query)),
      header: (name) => c.req.header(name),
      body,
      keyId: c.get("caller")?.keyId,
      deadline: c.get("deadline"),
    });
    return new Response(answer.body, {
      status: answer.status,
      headers: { ...answer.headers, "cache-control": "no-store", [ANSWERED_BY]: "broker" },
    });
  }

  for (const route of ROUTES) {
    const path = honoPath(route);
    const handler = handlers[route.operationId];
    const scope = route.scope;
    app.on(
      route.method,
      path,
      async (c, next) => {
        if (scope) {
          const caller = await auth.authenticate(c.req.header("authorization"));
          c.set("caller", caller);
          auth.require(caller, scope);
        }
        await next();
      },
      limitBody,
      (c) => handler(c),
    );
  }

  app.notFound((c) => {
    const allowed = allowedMethods(c.req.path);
    if (allowed.length > 0) {
      return problemResponse(c, {
        problem: problem(
          "method-not-allowed",
          "Method not allowed",
          405,
          `${c.req.method} is not allowed on ${c.req.path}; use ${allowed.join(", ")}.`,
        ),
        headers: { Allow: allowed.join(", ") },
        unexpected: false,
      });
    }
    return problemResponse(c, {
      problem: problem(
        "route-not-found",
        "Not found",
        404,
        `There is no route ${c.req.path}; GET /openapi.json lists them all.`,
      ),
      headers: {},
      unexpected: false,
    });
  });

  app.onError((error, c) => {
    const answer = toProblem(error);
    if (answer.unexpected) {
      logger.error(
        {
          event: "request_failed",
          method: c.req.method,
          path: c.req.path,
          err: error,
        },
        answer.problem.status === 500 ? "unexpected error" : "dependency unavailable",
      );
    }
    return problemResponse(c, answer);
  });

  return app;
}

function isGatewayRoute(route: { path: string }): boolean {
  return route.path.includes(BROKER_PATH_PARAM);
}

/** A route's path as Hono matches it: `{id}` → `:id`, the broker path → `*`. */
function honoPath(route: { path: string }): string {
  return route.path.replace(BROKER_PATH_PARAM, "*").replace(/\{(\w+)\}/g, ":$1");
}

function problemResponse(c: Context<AppEnv>, answer: ProblemResponse): Response {
  const requestId = c.get("requestId");
  const body = { ...answer.problem, instance: c.req.path, request_id: requestId };
  return new Response(JSON.stringify(body), {
    status: answer.problem.status,
    headers: {
      "Content-Type": "application/problem+json",
      "x-request-id": requestId,
      ...answer.headers,
    },
  });
}

async function readJson(c: Context<AppEnv>): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new MalformedJsonError();
  }
}

function accountId(c: Context<AppEnv>): number {
  const raw = c.req.param("id") ?? "";
  const value = Number(raw);
  if (!/^[1-9][0-9]{0,9}$/.test(raw) || value > MAX_ID) {
    throw new ValidationError([
      { field: "id", message: `must be a whole number from 1 to ${MAX_ID}` },
    ]);
  }
  return value;
}

/** GET /accounts pages: `?limit=` defaults to this and may not exceed MAX_PAGE_SIZE. */
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 500;

function limitQuery(values: string[] | undefined): number {
  if (!values || values.length === 0) return DEFAULT_PAGE_SIZE;
  const [raw] = values;
  if (
    values.length > 1 ||
    !/^[1-9][0-9]{0,2}$/.test(raw as string) ||
    Number(raw) > MAX_PAGE_SIZE
  ) {
    throw new ValidationError([
      { field: "limit", message: `must be a whole number from 1 to ${MAX_PAGE_SIZE}, given once` },
    ]);
  }
  return Number(raw);
}

/** The cursor is opaque to callers (today the last id of the page, base64url). */
function encodeCursor(afterId: number): string {
  return Buffer.from(`a${afterId}`).toString("base64url");
}

function cursorQuery(values: string[] | undefined): number | undefined {
  if (!values || values.length === 0) return undefined;
  const [raw] = values;
  const decoded = Buffer.from(raw as string, "base64url").toString("latin1");
  const id = Number(decoded.slice(1));
  if (
    values.length > 1 ||
    !/^a[1-9][0-9]{0,9}$/.test(decoded) ||
    id > MAX_ID ||
    encodeCursor(id) !== raw
  ) {
    throw new ValidationError([
      { field: "cursor", message: "must be a next_cursor this API returned, given once" },
    ]);
  }
  return id;
}

function accountTypeQuery(values: string[] | undefined): AccountType | undefined {
  if (!values || values.length === 0) return undefined;
  const [value] = values;
  if (values.length > 1 || !(ACCOUNT_TYPES as readonly string[]).includes(value as string)) {
    throw new ValidationError([
      { field: "type", message: `must be one of ${ACCOUNT_TYPES.join(", ")}, given once` },
    ]);
  }
  return value as AccountType;
}

/** openapi.json's document, with this deployment's version. */
function servedOpenApiDocument(text: string, version?: string): { info: { version: string } } {
  const document = JSON.parse(text) as { info: { version: string } };
  if (version) document.info.version = version;
  return document;
}

import type { Context } from "hono";
import type { Authenticator, Caller } from "../auth";
import type { Cipher } from "../crypto";
import type { Sql } from "../db";
import type { BrokerGateway } from "../gateway";
import type { Logger } from "../log";
import type { TokenService } from "../tokens";
import type { OperationId } from "./routes";

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

/** What the middleware sets on every request for the handlers after it. */
export type AppEnv = { Variables: { caller?: Caller; requestId: string; deadline: Date } };

/** One route's handler: parse the request, call core, shape the answer. */
export type Handler = (c: Context<AppEnv>) => Promise<Response>;

/** The handler of each operation of the route table. */
export type Handlers = Record<OperationId, Handler>;

/**
 * A made-up third broker, "ACME", written the way a real one is added: its
 * adapter (what core/brokers/kis.ts is to KIS) and its sandbox handler (what
 * dev/sandbox/kis.ts is to KIS). Nothing outside this file and the test that
 * registers it knows its name (issue 20: a broker is one adapter).
 */
import type { BrokerAdapter, BrokerCallRules, InterpretOptions } from "../../core/brokers/adapter";
import {
  type BrokerAnswerClass,
  type BrokerError,
  brokerError,
  codeKinds,
  isTokenRejection,
} from "../../core/brokers/errors";
import {
  type AdapterContext,
  asRecord,
  type BrokerResponse,
  postJson,
  scrub,
  secretsOf,
  stringField,
} from "../../core/brokers/http";
import { readIssuedToken } from "../../core/brokers/issued-token";
import type { OrderDesk } from "../../core/brokers/orders";
import type { StreamProtocol } from "../../core/brokers/stream-types";
import type { Broker, BrokerClient, BrokerCredentials } from "../../core/brokers/types";
import type { Answer, BrokerRequest, SandboxBroker } from "../../dev/sandbox";

/** Outside the `Broker` union on purpose: the registry is open at run time, the type is not. */
export const ACME = "ACME" as Broker;
const NAME = "Acme";

const CODE_KINDS = codeKinds({
  credentials_invalid: "E100",
  token_rejected: "E401",
  rate_limited: "E429",
});

function classify(status: number, body: unknown): BrokerAnswerClass | undefined {
  if (status < 400) return undefined;
  const record = asRecord(body);
  const code = record ? stringField(record, "error_code") : undefined;
  const known = code !== undefined ? CODE_KINDS[code] : undefined;
  if (known) return { code, kind: known };
  return { code, kind: status >= 500 ? "retry_later" : "rejected" };
}

function interpretError(
  response: BrokerResponse,
  options: InterpretOptions = {},
): BrokerError | undefined {
  const answer = classify(response.status, response.body);
  if (!answer) return undefined;
  const body = asRecord(response.body);
  return brokerError(answer, {
    broker: ACME,
    name: NAME,
    httpStatus: response.status,
    brokerMessage: scrub(body ? stringField(body, "message") : undefined, options.secrets ?? []),
    environment: options.environment,
    retryAfterMs: 1_000,
    unreadable: !body,
  });
}

function createClient(context: AdapterContext): BrokerClient {
  async function post(credentials: BrokerCredentials, endpoint: string, accessToken?: string) {
    const response = await postJson(
      ACME,
      context,
      `${context.baseUrls[credentials.environment]}/oauth/${endpoint}`,
      {
        appkey: credentials.appKey,
        appsecret: credentials.appSecret,
        ...(accessToken ? { token: accessToken } : {}),
      },
      { "content-type": "application/json" },
    );
    const error = interpretError(response, {
      secrets: secretsOf(credentials, accessToken),
      clock: context.clock,
      environment: credentials.environment,
    });
    return { response, error };
  }
  return {
    broker: ACME,
    minIssueIntervalMs: context.minIssueIntervalMs,
    sameTokenWithinMs: 0,
    maxRefreshWindowMs: Number.POSITIVE_INFINITY,
    async issueToken(credentials) {
      const { response, error } = await post(credentials, "token");
      if (error) throw error;
      const shape = {
        broker: ACME,
        name: NAME,
        tokenField: "access_token",
        expiryField: "expires_at_kst",
        defaultTokenType: "Bearer",
      };
      return readIssuedToken(shape, response, context.clock.now());
    },
    async revokeToken(credentials, accessToken) {
      const { error } = await post(credentials, "revoke", accessToken);
      if (error && !isTokenRejection(error)) throw error;
    },
  };
}

const CALLS: BrokerCallRules = {
  pathPrefix: "/v1/",
  forwardedHeaders: {
    "acme-tr": "Required on Acme calls: the transaction.",
    "acme-page": "Acme paging: the page to read.",
  },
  returnedHeaders: ["acme-tr", "acme-page"],
  transactionHeader: "acme-tr",
  // Paper transactions carry a P in front; a P id is refused on the real host.
  transactionIdFor: (id, environment) =>
    environment === "paper"
      ? { id: `P${id}` }
      : id.startsWith("P")
        ? { refused: "is a paper transaction id", code: "validation_failed" }
        : { id },
  callHeaders: (forwarded, credentials) => ({ ...forwarded, "acme-key": credentials.appKey }),
};

const ORDERS: OrderDesk = {
  orderPaths: new Set(["/v1/order"]),
  orderTerms: () => undefined,
  orderNumber: (body) => {
    const record = asRecord(body);
    return record ? stringField(record, "order_no") : undefined;
  },
  accountParams: () => ({}),
  dayOrdersQuery: (_environment, _filter, date) => ({
    method: "GET",
    path: "/v1/orders",
    query: `date=${date}`,
    body: undefined,
    headers: { "acme-tr": "ORDERS" },
  }),
  readDayOrders: () => undefined,
};

const STREAM: StreamProtocol = {
  broker: ACME,
  defaultUrls: { real: "wss://stream.acme.invalid/real", paper: "wss://stream.acme.invalid/paper" },
  login: "access_token",
  accountKey: "none",
  noticeTotals: true,
  registrationCap: undefined,
  kinds: [],
  needsLogin: false,
  openingFrames: () => [],
  registrationFrames: () => [],
  read: () => ({ type: "ignored", why: "Acme streams nothing" }),
  isCredentialRefusal: () => false,
  isSessionConflict: () => false,
};

export const acmeAdapter: BrokerAdapter = {
  broker: ACME,
  displayName: NAME,
  alarmName: "Acme",
  settingsPrefix: "ACME",
  defaultBaseUrls: { real: "https://api.acme.invalid", paper: "https://paper.acme.invalid" },
  minIssueInterval: { defaultMs: 2_000, floorMs: 500 },
  callsPerSecond: { real: 3, paper: 1 },
  orderCallsPerSecond: { real: 1, paper: 1, shared: true },
  orders: ORDERS,
  createClient,
  interpretError,
  calls: CALLS,
  securitiesConfigIssues: (config) =>
    typeof config.account_number === "string" && !/^[0-9]{10}$/.test(config.account_number)
      ? [
          {
            field: "securities_config.account_number",
            message: "must be exactly 10 digits for Acme",
          },
        ]
      : [],
  stream: STREAM,
};

/** What the Acme sandbox saw of one REST call. */
export interface AcmeCall {
  method: string;
  path: string;
  query: string;
  transaction: string | undefined;
  appKey: string | undefined;
  token: string | undefined;
}

/** The Acme sandbox: tokens by app key, the calls it answered, and a switch to refuse the next call's token. */
export function acmeSandbox() {
  const tokens = new Map<string, string>();
  const calls: AcmeCall[] = [];
  let issued = 0;
  let revoked = 0;
  let rejectNextToken = false;
  const header = (request: BrokerRequest, name: string) => {
    const value = request.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const handler: SandboxBroker = {
    isTokenEndpoint: (request) => request.path.startsWith("/oauth/"),
    rateLimitAnswer: () => ({ status: 429, body: { error_code: "E429", message: "slow down" } }),
    orderPaths: ORDERS.orderPaths,
    orderRefusal: () => ({ status: 400, body: { error_code: "E400", message: "refused" } }),
    handle(request, context): Answer | undefined {
      const { appkey, appsecret } = request.body;
      if (request.method === "POST" && request.path === "/oauth/token") {
        if (typeof appkey !== "string" || typeof appsecret !== "string")
          return {
            status: 400,
            body: { error_code: "E100", message: "app key or secret missing" },
          };
        issued += 1;
        const token = `acme-${context.environment}-${issued}`;
        tokens.set(token, appkey);
        return {
          status: 200,
          body: { access_token: token, token_type: "bearer", expires_in: 86_400 },
        };
      }
      if (request.method === "POST" && request.path === "/oauth/revoke") {
        revoked += 1;
        tokens.delete(String(request.body.token));
        return { status: 200, body: {} };
      }
      if (!request.path.startsWith("/v1/")) return undefined;
      const token = /^Bearer (\S+)$/.exec(header(request, "authorization") ?? "")?.[1];
      const appKey = header(request, "acme-key");
      if (rejectNextToken || !token || tokens.get(token) !== appKey) {
        rejectNextToken = false;
        return { status: 401, body: { error_code: "E401", message: "token expired" } };
      }
      const transaction = header(request, "acme-tr");
      calls.push({
        method: request.method,
        path: request.path,
        query: request.query.toString(),
        transaction,
        appKey,
        token,
      });
      return {
        status: 200,
        body: { ok: true, transaction, path: request.path },
        headers: { "acme-tr": transaction ?? "", "acme-page": "2", "x-acme-internal": "secret" },
      };
    },
  };
  return {
    handler,
    calls,
    issued: () => issued,
    revoked: () => revoked,
    rejectNextToken() {
      rejectNextToken = true;
    },
  };
}

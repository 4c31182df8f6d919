import { systemClock } from "../clock";
import type { BrokerAdapter, BrokerCallRules, InterpretOptions } from "./adapter";
import {
  type BrokerAnswerClass,
  type BrokerError,
  brokerError,
  codeKinds,
  isTokenRejection,
} from "./errors";
import {
  type AdapterContext,
  asRecord,
  type BrokerResponse,
  numberField,
  postJson,
  retryAfterMs,
  scrub,
  secretsOf,
  stringField,
} from "./http";
import { readIssuedToken, type TokenAnswerShape } from "./issued-token";
import { readKiwoomCode } from "./kiwoom-codes";
import { kiwoomOrderDesk } from "./kiwoom-orders";
import { kiwoomStream } from "./kiwoom-stream";
import type { BrokerClient, BrokerCredentials, IssuedToken } from "./types";

const BROKER = "KIWOOM";
/** As people write it, in messages. */
const NAME = "Kiwoom";

/**
 * Kiwoom's error table (BROKERS.md) by what each code means for us. A code
 * not listed falls back on the HTTP status (429 rate limited, 5xx retry later).
 */
const CODE_KINDS = codeKinds({
  bad_request: "1501 1504 1505 1511 1512 1517 1901 1902 1903 8104",
  our_bug: "1513 1514 1515 1516 8011 8012 8016 8020",
  rate_limited: "1687 1700 1701 1702",
  retry_later: "1999 8006 8009",
  credentials_invalid: "8001 8002",
  // 8031 is a token of the other environment: re-issuing in the right one cures it.
  // 8103 ("token or device authentication failed") may be the token: re-issue once.
  token_rejected: "8003 8005 8031 8103",
  ip_mismatch: "8010",
  revoke_failed: "8015",
  wrong_environment: "8030",
  device_not_registered: "8040 8050",
  not_permitted: "8200",
});

/** Kiwoom's limit is per second; one second is the shortest sensible wait. */
const RATE_LIMIT_WAIT_MS = 1_000;

/**
 * Classifies any Kiwoom answer (token endpoints or API calls, HTTP 200 or
 * not) from its status and parsed JSON body (undefined when not JSON):
 * its code and what that code means, or undefined for a success.
 */
export function classifyKiwoomAnswer(status: number, body: unknown): BrokerAnswerClass | undefined {
  const record = asRecord(body);
  const returnCode = record ? numberField(record, "return_code") : undefined;
  const failed = status >= 400 || (returnCode !== undefined && returnCode !== 0);
  if (!failed) return undefined;
  const code = readKiwoomCode(record);
  const known = code !== undefined ? CODE_KINDS[code] : undefined;
  if (known) return { code, kind: known };
  // A bare 401: Kiwoom's own client takes it as a token failure and re-issues.
  if (status === 401) return { code, kind: "token_rejected" };
  // Group 5 without a readable code has only been seen for rate limits.
  if (status === 429 || returnCode === 5) return { code, kind: "rate_limited" };
  if (status >= 500 || !record) return { code, kind: "retry_later" };
  return { code, kind: "rejected" };
}

function headersFor(apiId: string): Record<string, string> {
  return { "content-type": "application/json;charset=UTF-8", "api-id": apiId };
}

/** Classify a Kiwoom answer into a typed error; undefined when it is a success. */
function interpretError(
  response: BrokerResponse,
  options: InterpretOptions = {},
): BrokerError | undefined {
  const answer = classifyKiwoomAnswer(response.status, response.body);
  if (!answer) return undefined;
  const body = asRecord(response.body);
  const clock = options.clock ?? systemClock;
  return brokerError(answer, {
    broker: BROKER,
    name: NAME,
    httpStatus: response.status,
    brokerMessage: scrub(body ? stringField(body, "return_msg") : undefined, options.secrets ?? []),
    environment: options.environment,
    retryAfterMs: Math.max(RATE_LIMIT_WAIT_MS, retryAfterMs(response.headers, clock) ?? 0),
    unreadable: !body,
  });
}

const TOKEN_ANSWER: TokenAnswerShape = {
  broker: BROKER,
  name: NAME,
  tokenField: "token",
  expiryField: "expires_dt",
  defaultTokenType: "Bearer",
};

function createClient(context: AdapterContext): BrokerClient {
  return {
    broker: BROKER,
    minIssueIntervalMs: context.minIssueIntervalMs,
    sameTokenWithinMs: 0,
    maxRefreshWindowMs: Number.POSITIVE_INFINITY,

    async issueToken(credentials: BrokerCredentials): Promise<IssuedToken> {
      const response = await postJson(
        BROKER,
        context,
        `${context.baseUrls[credentials.environment]}/oauth2/token`,
        {
          grant_type: "client_credentials",
          appkey: credentials.appKey,
          secretkey: credentials.appSecret,
        },
        headersFor("au10001"),
      );
      const issuedAt = context.clock.now();
      const error = interpretError(response, {
        secrets: secretsOf(credentials),
        clock: context.clock,
        environment: credentials.environment,
      });
      if (error) throw error;
      return readIssuedToken(TOKEN_ANSWER, response, issuedAt);
    },

    async revokeToken(credentials: BrokerCredentials, accessToken: string): Promise<void> {
      const response = await postJson(
        BROKER,
        context,
        `${context.baseUrls[credentials.environment]}/oauth2/revoke`,
        { appkey: credentials.appKey, secretkey: credentials.appSecret, token: accessToken },
        headersFor("au10002"),
      );
      const error = interpretError(response, {
        secrets: secretsOf(credentials, accessToken),
        clock: context.clock,
        environment: credentials.environment,
      });
      // A token the broker no longer accepts is as revoked as it gets.
      if (isTokenRejection(error)) return;
      if (error) throw error;
    },
  };
}

/** How the gateway forwards a caller's Kiwoom call (BROKERS.md, "calls"). */
const KIWOOM_CALLS: BrokerCallRules = {
  pathPrefix: "/api/",
  forwardedHeaders: {
    "api-id": "Required on Kiwoom calls: the TR id (ka10001, kt10000…).",
    "cont-yn": "Kiwoom paging: Y for the next page.",
    "next-key": "Kiwoom paging key from the previous answer.",
  },
  returnedHeaders: ["api-id", "cont-yn", "next-key"],
  transactionHeader: "api-id",
  // The mock host takes the real api-ids (it answers 8104 for what it does not serve).
  transactionIdFor: (id) => ({ id }),
  // The bearer token is Kiwoom's only auth header.
  callHeaders: (forwarded) => ({ ...forwarded }),
};

/** Kiwoom Securities REST API; "paper" maps to Kiwoom's mock host. */
export const kiwoomAdapter: BrokerAdapter = {
  broker: BROKER,
  displayName: NAME,
  alarmName: "Kiwoom",
  settingsPrefix: "KIWOOM",
  defaultBaseUrls: { real: "https://api.kiwoom.com", paper: "https://mockapi.kiwoom.com" },
  // Kiwoom publishes no issuance limit. Tokens live ~24 h, so at most one issue
  // a minute per app key costs nothing and stays clear of any hidden limit;
  // it matches the only published peer figure (KIS). Configurable down to 1 s.
  minIssueInterval: { defaultMs: 60_000, floorMs: 1_000 },
  // What clients use (BROKERS.md): 0.205 s apart on real, 1 a second on mock; 1700 above it.
  callsPerSecond: { real: 5, paper: 1 },
  // Kiwoom budgets orders apart from queries (BROKERS.md): 5/s each real, the mock's 1/s.
  orderCallsPerSecond: { real: 5, paper: 1, shared: false },
  orders: kiwoomOrderDesk,
  createClient,
  interpretError,
  calls: KIWOOM_CALLS,
  // No securitiesConfigIssues: the shared shape (8 or 10 digits, no product code) is Kiwoom's.
  stream: kiwoomStream,
};

import { type Clock, systemClock } from "../clock";
import type { BrokerAdapter } from "./adapter";
import {
  BrokerCredentialsError,
  type BrokerError,
  BrokerRateLimitedError,
  BrokerRejectedError,
  BrokerTokenRejectedError,
  BrokerUnavailableError,
  type CredentialsProblem,
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
import type { BrokerClient, BrokerCredentials, IssuedToken } from "./types";

const BROKER = "KIWOOM";

/** Code groups as the official client uses them (BROKERS.md). */
const RATE_LIMIT_CODES = new Set(["1700"]);
const TOKEN_CODES = new Set(["8003", "8005", "8006", "8009", "8015", "8016"]);
const CREDENTIAL_PROBLEMS: Record<string, CredentialsProblem> = {
  "8001": "invalid",
  "8002": "invalid",
  "8011": "invalid",
  "8012": "invalid",
  "8030": "environment_mismatch",
  "8031": "environment_mismatch",
  // 8010 (token issued to another IP) is a deployment problem, not a stale
  // token: issuing again from a different egress IP would loop, so it is not
  // reported as a token rejection.
  "8010": "ip_not_allowed",
  "8040": "ip_not_allowed",
  "8050": "ip_not_allowed",
  "8103": "ip_not_allowed",
};
/** Kiwoom's limit is per second; one second is the shortest sensible wait. */
const RATE_LIMIT_WAIT_MS = 1_000;

/** "[8005:Token이 유효하지 않습니다]" → "8005". */
const BRACKETED_CODE = /^\s*\[(\d+)\s*:/;

function headersFor(apiId: string): Record<string, string> {
  return { "content-type": "application/json;charset=UTF-8", "api-id": apiId };
}

/** Classify a Kiwoom answer; undefined when it is a success. */
function interpretError(
  response: BrokerResponse,
  options: { secrets?: readonly string[]; clock?: Clock } = {},
): BrokerError | undefined {
  const { status } = response;
  const body = asRecord(response.body);
  const clock = options.clock ?? systemClock;
  const returnCode = body ? numberField(body, "return_code") : undefined;
  const failed = status >= 400 || (returnCode !== undefined && returnCode !== 0);
  if (!failed) return undefined;
  const rawMessage = body ? stringField(body, "return_msg") : undefined;
  const brokerMessage = scrub(rawMessage, options.secrets ?? []);
  // The specific code sits in the message; return_code itself is often a small generic number.
  const code =
    (rawMessage !== undefined ? BRACKETED_CODE.exec(rawMessage)?.[1] : undefined) ??
    (returnCode !== undefined ? String(returnCode) : undefined);
  const details = { broker: BROKER, brokerCode: code, httpStatus: status, brokerMessage } as const;
  const said = brokerMessage ? ` (${brokerMessage})` : code ? ` (${code})` : ` (HTTP ${status})`;

  // Seen as code 1700, as HTTP 429, and as HTTP 200 with return_code 5.
  if (
    (code !== undefined && RATE_LIMIT_CODES.has(code)) ||
    status === 429 ||
    (returnCode === 5 &&
      !(code !== undefined && (TOKEN_CODES.has(code) || code in CREDENTIAL_PROBLEMS)))
  ) {
    const wait = Math.max(RATE_LIMIT_WAIT_MS, retryAfterMs(response.headers, clock) ?? 0);
    return new BrokerRateLimitedError(`Kiwoom rate limit hit${said}; retry after ${wait} ms.`, {
      ...details,
      retryAfterMs: wait,
    });
  }
  if (code !== undefined && TOKEN_CODES.has(code)) {
    return new BrokerTokenRejectedError(`Kiwoom rejected the access token${said}.`, details);
  }
  const problem = code !== undefined ? CREDENTIAL_PROBLEMS[code] : undefined;
  if (problem) {
    return new BrokerCredentialsError(`Kiwoom rejected the app key or its use${said}.`, {
      ...details,
      problem,
    });
  }
  if (status >= 500) {
    return new BrokerUnavailableError(`Kiwoom failed with a server error${said}.`, {
      ...details,
      reason: "server_error",
    });
  }
  if (!body) {
    return new BrokerUnavailableError(
      `Kiwoom answered HTTP ${status} with a body that is not JSON.`,
      { ...details, reason: "unparseable" },
    );
  }
  return new BrokerRejectedError(`Kiwoom refused the request${said}.`, details);
}

const TOKEN_ANSWER: TokenAnswerShape = {
  broker: BROKER,
  tokenField: "token",
  expiryField: "expires_dt",
  defaultTokenType: "bearer",
};

function createClient(context: AdapterContext): BrokerClient {
  return {
    broker: BROKER,
    minIssueIntervalMs: context.minIssueIntervalMs,

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
      });
      // A token the broker no longer accepts is as revoked as it gets.
      if (isTokenRejection(error)) return;
      if (error) throw error;
    },
  };
}

/** Kiwoom Securities REST API; "paper" maps to Kiwoom's mock host. */
export const kiwoomAdapter: BrokerAdapter = {
  broker: BROKER,
  settingsPrefix: "KIWOOM",
  defaultBaseUrls: { real: "https://api.kiwoom.com", paper: "https://mockapi.kiwoom.com" },
  // Kiwoom publishes no issuance limit. Tokens live ~24 h, so at most one issue
  // a minute per app key costs nothing and stays clear of any hidden limit;
  // it matches the only published peer figure (KIS). Configurable down to 1 s.
  minIssueInterval: { defaultMs: 60_000, floorMs: 1_000 },
  createClient,
  interpretError,
};

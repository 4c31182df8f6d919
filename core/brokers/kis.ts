import { type Clock, systemClock } from "../clock";
import type { BrokerAdapter } from "./adapter";
import {
  BrokerCredentialsError,
  type BrokerError,
  BrokerRateLimitedError,
  BrokerRejectedError,
  BrokerTokenRejectedError,
  BrokerUnavailableError,
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

const BROKER = "KIS";

/** EGW00133: one issue per minute per app key. EGW00201: too many requests per second. */
const RATE_LIMIT_WAIT_MS: Record<string, number> = { EGW00133: 60_000, EGW00201: 1_000 };
/** Invalid, not found, expired. */
const TOKEN_CODES = new Set(["EGW00121", "EGW00122", "EGW00123"]);
/**
 * App key / secret missing or invalid. Not in BROKERS.md's sources; these are
 * the codes KIS's gateway is commonly reported to use. Other 4xx codes still
 * surface as BrokerRejectedError, so a wrong guess here is not silent.
 */
const CREDENTIAL_CODES = new Set(["EGW00102", "EGW00103", "EGW00104", "EGW00105"]);

const JSON_HEADERS = {
  "content-type": "application/json; charset=UTF-8",
  accept: "application/json",
};

/** Classify a KIS answer; undefined when it is a success. */
function interpretError(
  response: BrokerResponse,
  options: { secrets?: readonly string[]; clock?: Clock } = {},
): BrokerError | undefined {
  const { status } = response;
  const body = asRecord(response.body);
  const clock = options.clock ?? systemClock;
  // Two shapes: {error_code, error_description} from the token gateway and {rt_cd, msg_cd, msg1} elsewhere.
  const rtCd = body ? stringField(body, "rt_cd") : undefined;
  const code = body ? (stringField(body, "error_code") ?? stringField(body, "msg_cd")) : undefined;
  const failed =
    status >= 400 || (rtCd !== undefined && rtCd !== "0") || body?.error_code !== undefined;
  if (!failed) return undefined;
  const brokerMessage = scrub(
    body ? (stringField(body, "error_description") ?? stringField(body, "msg1")) : undefined,
    options.secrets ?? [],
  );
  const details = { broker: BROKER, brokerCode: code, httpStatus: status, brokerMessage } as const;
  const said = code
    ? ` (${code}${brokerMessage ? `: ${brokerMessage}` : ""})`
    : ` (HTTP ${status})`;

  if (code !== undefined && code in RATE_LIMIT_WAIT_MS) {
    const wait = Math.max(
      RATE_LIMIT_WAIT_MS[code] ?? 0,
      retryAfterMs(response.headers, clock) ?? 0,
    );
    return new BrokerRateLimitedError(`KIS rate limit hit${said}; retry after ${wait} ms.`, {
      ...details,
      retryAfterMs: wait,
    });
  }
  // Token errors come both as HTTP 200 with rt_cd "1" and as HTTP 500.
  if (code !== undefined && TOKEN_CODES.has(code)) {
    return new BrokerTokenRejectedError(`KIS rejected the access token${said}.`, details);
  }
  if (code !== undefined && CREDENTIAL_CODES.has(code)) {
    return new BrokerCredentialsError(`KIS rejected the app key or secret${said}.`, {
      ...details,
      problem: "invalid",
    });
  }
  if (status === 429) {
    const wait = retryAfterMs(response.headers, clock) ?? 1_000;
    return new BrokerRateLimitedError(`KIS rate limit hit${said}; retry after ${wait} ms.`, {
      ...details,
      retryAfterMs: wait,
    });
  }
  if (status >= 500) {
    return new BrokerUnavailableError(`KIS failed with a server error${said}.`, {
      ...details,
      reason: "server_error",
    });
  }
  if (!body) {
    return new BrokerUnavailableError(`KIS answered HTTP ${status} with a body that is not JSON.`, {
      ...details,
      reason: "unparseable",
    });
  }
  return new BrokerRejectedError(`KIS refused the request${said}.`, details);
}

const TOKEN_ANSWER: TokenAnswerShape = {
  broker: BROKER,
  tokenField: "access_token",
  expiryField: "access_token_token_expired",
  defaultTokenType: "Bearer",
};

function createClient(context: AdapterContext): BrokerClient {
  return {
    broker: BROKER,
    minIssueIntervalMs: context.minIssueIntervalMs,

    async issueToken(credentials: BrokerCredentials): Promise<IssuedToken> {
      const response = await postJson(
        BROKER,
        context,
        `${context.baseUrls[credentials.environment]}/oauth2/tokenP`,
        {
          grant_type: "client_credentials",
          appkey: credentials.appKey,
          appsecret: credentials.appSecret,
        },
        JSON_HEADERS,
      );
      const issuedAt = context.clock.now();
      const secrets = secretsOf(credentials);
      const error = interpretError(response, { secrets, clock: context.clock });
      if (error) throw error;
      return readIssuedToken(TOKEN_ANSWER, response, issuedAt);
    },

    async revokeToken(credentials: BrokerCredentials, accessToken: string): Promise<void> {
      const response = await postJson(
        BROKER,
        context,
        `${context.baseUrls[credentials.environment]}/oauth2/revokeP`,
        { appkey: credentials.appKey, appsecret: credentials.appSecret, token: accessToken },
        JSON_HEADERS,
      );
      const secrets = secretsOf(credentials, accessToken);
      const error = interpretError(response, { secrets, clock: context.clock });
      // A token the broker no longer knows is as revoked as it gets.
      if (isTokenRejection(error)) return;
      if (error) throw error;
      const body = asRecord(response.body);
      // `code` has been seen both as 200 and "200".
      const code = body ? numberField(body, "code") : undefined;
      if (code !== undefined && code !== 200) {
        const brokerMessage = scrub(body ? stringField(body, "message") : undefined, secrets);
        throw new BrokerRejectedError(
          `KIS refused to revoke the token (code ${code}${brokerMessage ? `: ${brokerMessage}` : ""}).`,
          { broker: BROKER, brokerCode: String(code), httpStatus: response.status, brokerMessage },
        );
      }
    },
  };
}

/** Korea Investment & Securities (KIS Developers). */
export const kisAdapter: BrokerAdapter = {
  broker: BROKER,
  settingsPrefix: "KIS",
  defaultBaseUrls: {
    real: "https://openapi.koreainvestment.com:9443",
    paper: "https://openapivts.koreainvestment.com:29443",
  },
  // KIS allows one issue per minute per app key (EGW00133); a setting may slow it, never speed it.
  minIssueInterval: { defaultMs: 60_000, floorMs: 60_000 },
  createClient,
  interpretError,
};

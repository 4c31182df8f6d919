import { systemClock } from "../clock";
import type { BrokerAdapter, InterpretOptions } from "./adapter";
import {
  type BrokerAnswerClass,
  type BrokerError,
  BrokerRejectedError,
  BrokerUnavailableError,
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
import { kisSecuritiesConfigIssues } from "./kis-accounts";
import { KIS_CALLS } from "./kis-calls";
import { kisOrderDesk } from "./kis-orders";
import { kisStream } from "./kis-stream";
import type { ApprovalKey, BrokerClient, BrokerCredentials, IssuedToken } from "./types";

const BROKER = "KIS";
/** As people write it, in messages: the broker's id. */
const NAME = "KIS";

/** KIS's gateway codes (BROKERS.md) by what each means for us. Unlisted codes fall back on the HTTP status. */
const CODE_KINDS = codeKinds({
  // Invalid, not found, expired: seen both as HTTP 200 with rt_cd "1" and as HTTP 500.
  token_rejected: "EGW00121 EGW00122 EGW00123",
  // "Check the previous transaction": the call may have been acted on (BROKERS.md "Orders").
  outcome_unknown: "EGW00301 EGW00302",
  // One issue per minute per app key; too many requests per second.
  rate_limited: "EGW00133 EGW00201",
  retry_later: "EGW00001 EGW00002",
  // App key or secret missing or invalid (copies of the portal's error page).
  credentials_invalid: "EGW00102 EGW00103 EGW00104 EGW00105",
  not_permitted: "EGW00206",
  ip_not_registered: "EGW00207",
  // A real trading tr_id on the paper host: the caller picked the wrong transaction id.
  bad_request: "EGW00213",
});

/** How long each rate limit asks us to wait at least. */
const RATE_LIMIT_WAIT_MS: Record<string, number> = { EGW00133: 60_000, EGW00201: 1_000 };

/**
 * Classifies any KIS answer (token endpoints or API calls) from its status
 * and parsed JSON body (undefined when not JSON): its code and what that
 * code means, or undefined for a success. Two body shapes:
 * {error_code, error_description} from the token gateway and
 * {rt_cd, msg_cd, msg1} elsewhere.
 */
export function classifyKisAnswer(status: number, body: unknown): BrokerAnswerClass | undefined {
  const record = asRecord(body);
  const rtCd = record ? stringField(record, "rt_cd") : undefined;
  const failed =
    status >= 400 || (rtCd !== undefined && rtCd !== "0") || record?.error_code !== undefined;
  if (!failed) return undefined;
  const code = record
    ? (stringField(record, "error_code") ?? stringField(record, "msg_cd"))
    : undefined;
  const known = code !== undefined ? CODE_KINDS[code] : undefined;
  if (known) return { code, kind: known };
  if (status === 429) return { code, kind: "rate_limited" };
  if (status >= 500 || !record) return { code, kind: "retry_later" };
  return { code, kind: "rejected" };
}

const GRANT = "client_credentials";

const JSON_HEADERS = {
  "content-type": "application/json; charset=UTF-8",
  accept: "application/json",
};

/** Classify a KIS answer into a typed error; undefined when it is a success. */
function interpretError(
  response: BrokerResponse,
  options: InterpretOptions = {},
): BrokerError | undefined {
  const answer = classifyKisAnswer(response.status, response.body);
  if (!answer) return undefined;
  const body = asRecord(response.body);
  const clock = options.clock ?? systemClock;
  return brokerError(answer, {
    broker: BROKER,
    name: NAME,
    httpStatus: response.status,
    brokerMessage: scrub(
      body ? (stringField(body, "error_description") ?? stringField(body, "msg1")) : undefined,
      options.secrets ?? [],
    ),
    environment: options.environment,
    retryAfterMs: Math.max(
      (answer.code !== undefined ? RATE_LIMIT_WAIT_MS[answer.code] : undefined) ?? 1_000,
      retryAfterMs(response.headers, clock) ?? 0,
    ),
    unreadable: !body,
  });
}

const HOUR = 3_600_000;

const TOKEN_ANSWER: TokenAnswerShape = {
  broker: BROKER,
  name: NAME,
  tokenField: "access_token",
  expiryField: "access_token_token_expired",
  defaultTokenType: "Bearer",
};

function createClient(context: AdapterContext): BrokerClient {
  /** POST to one of KIS's /oauth2 endpoints with the app key; the answer, when it came and its error. */
  async function post(
    credentials: BrokerCredentials,
    endpoint: string,
    fields: Record<string, string>,
    accessToken?: string,
  ) {
    const answer = await postJson(
      BROKER,
      context,
      `${context.baseUrls[credentials.environment]}/oauth2/${endpoint}`,
      { appkey: credentials.appKey, ...fields },
      JSON_HEADERS,
    );
    const secrets = secretsOf(credentials, accessToken);
    const error = interpretError(answer, {
      secrets,
      clock: context.clock,
      environment: credentials.environment,
    });
    return { response: { ...answer, at: context.clock.now(), error }, secrets };
  }

  return {
    broker: BROKER,
    minIssueIntervalMs: context.minIssueIntervalMs,
    sameTokenWithinMs: 6 * HOUR,
    maxRefreshWindowMs: 17 * HOUR,

    async issueToken(credentials: BrokerCredentials): Promise<IssuedToken> {
      const { response } = await post(credentials, "tokenP", {
        grant_type: GRANT,
        appsecret: credentials.appSecret,
      });
      const error = response.error;
      if (error) throw error;
      return readIssuedToken(TOKEN_ANSWER, response, response.at);
    },

    async issueApprovalKey(credentials: BrokerCredentials): Promise<ApprovalKey> {
      // The app secret goes in `secretkey` here, not `appsecret` as at tokenP.
      const { response } = await post(credentials, "Approval", {
        grant_type: GRANT,
        secretkey: credentials.appSecret,
      });
      if (response.error) throw response.error;
      const body = asRecord(response.body);
      const approvalKey = body ? stringField(body, "approval_key") : undefined;
      if (!approvalKey) {
        throw new BrokerUnavailableError("KIS answered without an approval_key.", {
          broker: BROKER,
          httpStatus: response.status,
          reason: "unparseable",
        });
      }
      return { approvalKey, expiresAt: new Date(response.at.getTime() + 24 * HOUR) };
    },

    async revokeToken(credentials: BrokerCredentials, accessToken: string): Promise<void> {
      const { response, secrets } = await post(
        credentials,
        "revokeP",
        { appsecret: credentials.appSecret, token: accessToken },
        accessToken,
      );
      const error = response.error;
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
          {
            broker: BROKER,
            brokerCode: String(code),
            httpStatus: response.status,
            brokerMessage,
            environment: credentials.environment,
          },
          "revoke_failed",
        );
      }
    },
  };
}

/** Korea Investment & Securities (KIS Developers). */
export const kisAdapter: BrokerAdapter = {
  broker: BROKER,
  displayName: NAME,
  alarmName: "Kis",
  settingsPrefix: "KIS",
  defaultBaseUrls: {
    real: "https://openapi.koreainvestment.com:9443",
    paper: "https://openapivts.koreainvestment.com:29443",
  },
  // KIS allows one issue per minute per app key (EGW00133); a setting may slow it, never speed it.
  minIssueInterval: { defaultMs: 60_000, floorMs: 60_000 },
  // What clients use (BROKERS.md): KIS publishes no figure; EGW00201 above it.
  callsPerSecond: { real: 20, paper: 2 },
  // Orders and queries share KIS's limit: a fifth of it (one of paper's two) is kept for orders.
  orderCallsPerSecond: { real: 4, paper: 1, shared: true },
  orders: kisOrderDesk,
  createClient,
  interpretError,
  calls: KIS_CALLS,
  securitiesConfigIssues: kisSecuritiesConfigIssues,
  stream: kisStream,
};

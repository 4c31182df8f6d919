import { formatKoreaTime } from "../../core/brokers";
import {
  type Answer,
  type BrokerContext,
  type BrokerRequest,
  bearer,
  header,
  type SandboxBroker,
} from "./answers";
import { kisError } from "./codes";
import { KIS_ISSUE_INTERVAL_MS, KIS_REUSE_WINDOW_MS, type TokenVerdict } from "./state";

const TOKEN_PATH = "/oauth2/tokenP";
const REVOKE_PATH = "/oauth2/revokeP";
const PRICE_PATH = "/uapi/domestic-stock/v1/quotations/inquire-price";

/** The token gateway's error shape {error_code, error_description}, counted. */
function gatewayError(context: BrokerContext, code: string): Answer {
  context.state.recordRejection(code);
  return kisError(code, true);
}

function credentialsError(
  context: BrokerContext,
  appKey: unknown,
  secret: unknown,
): Answer | undefined {
  const verdict = context.state.checkCredentials("KIS", context.environment, appKey, secret);
  switch (verdict) {
    case "ok":
      return undefined;
    case "missing_key":
      return gatewayError(context, "EGW00102");
    case "missing_secret":
      return gatewayError(context, "EGW00104");
    case "invalid":
    // The other host has never heard of a key from this one.
    case "other_environment":
      return gatewayError(context, "EGW00103");
  }
}

function issue(request: BrokerRequest, context: BrokerContext): Answer {
  const { state, environment } = context;
  const { appkey, appsecret } = request.body;
  const refused = credentialsError(context, appkey, appsecret);
  if (refused) return refused;
  const appKey = appkey as string;
  const now = state.now();
  if (now - state.keyState("KIS", environment, appKey).lastIssueAt < KIS_ISSUE_INTERVAL_MS) {
    return gatewayError(context, "EGW00133");
  }
  const record =
    state.reusable("KIS", environment, appKey, KIS_REUSE_WINDOW_MS) ??
    state.createToken("KIS", environment, appKey);
  state.recordIssue("KIS", environment, appKey);
  return {
    status: 200,
    body: {
      access_token: record.token,
      access_token_token_expired: formatKoreaTime(new Date(record.expiresAt), "dashed"),
      token_type: "Bearer",
      expires_in:
        Math.floor((record.expiresAt - now) / 1000) + context.config.kisExpiresInSkewSeconds,
    },
  };
}

function revoke(request: BrokerRequest, context: BrokerContext): Answer {
  const { appkey, appsecret, token } = request.body;
  const refused = credentialsError(context, appkey, appsecret);
  if (refused) return refused;
  const verdict = context.state.checkToken(
    "KIS",
    context.environment,
    typeof token === "string" ? token : undefined,
    appkey as string,
  );
  if (!verdict.ok) return gatewayError(context, "EGW00121");
  context.state.revoke(verdict.record);
  // Both spellings of `code` are seen live; alternate so clients meet both.
  const code = context.state.stats.revoked.total % 2 === 0 ? "200" : 200;
  return { status: 200, body: { code, message: "접근토큰 폐기에 성공하였습니다" } };
}

function tokenError(context: BrokerContext, verdict: Exclude<TokenVerdict, { ok: true }>): Answer {
  const code =
    verdict.why === "missing"
      ? "EGW00122"
      : verdict.why === "expired" || verdict.why === "other_environment"
        ? "EGW00123"
        : "EGW00121";
  context.state.recordRejection(code);
  return kisError(code, false, context.config.kisTokenErrorStatus);
}

function inquirePrice(request: BrokerRequest, context: BrokerContext): Answer {
  const verdict = context.state.checkToken(
    "KIS",
    context.environment,
    bearer(request.headers),
    header(request.headers, "appkey"),
  );
  if (!verdict.ok) return tokenError(context, verdict);
  return {
    status: 200,
    body: {
      rt_cd: "0",
      msg_cd: "MCA00000",
      msg1: "정상처리 되었습니다.",
      output: {
        stck_shrn_iscd: request.query.get("FID_INPUT_ISCD") ?? "005930",
        stck_prpr: "71000",
      },
    },
  };
}

/** KIS Developers: tokenP, revokeP and one quotation endpoint that checks the bearer token. */
export const kisSandbox: SandboxBroker = {
  isTokenEndpoint: (request) => request.path === TOKEN_PATH || request.path === REVOKE_PATH,

  rateLimitAnswer(request) {
    return request.path === TOKEN_PATH ? kisError("EGW00133", true) : kisError("EGW00201", false);
  },

  handle(request, context) {
    if (request.method === "POST" && request.path === TOKEN_PATH) return issue(request, context);
    if (request.method === "POST" && request.path === REVOKE_PATH) return revoke(request, context);
    if (request.method === "GET" && request.path === PRICE_PATH)
      return inquirePrice(request, context);
    return undefined;
  },
};

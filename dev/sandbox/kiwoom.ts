import { formatKoreaTime } from "../../core/brokers";
import {
  type Answer,
  type BrokerContext,
  type BrokerRequest,
  bearer,
  header,
  type SandboxBroker,
} from "./answers";
import { kiwoomError } from "./codes";

const TOKEN_PATH = "/oauth2/token";
const REVOKE_PATH = "/oauth2/revoke";
const STOCK_INFO_PATH = "/api/dostk/stkinfo";
const OK = { return_code: 0, return_msg: "정상적으로 처리되었습니다" };

/** A Kiwoom error in the real shape (prefixed return_msg, coarse return_code), counted. */
function failure(context: BrokerContext, code: string): Answer {
  context.state.recordRejection(code);
  return kiwoomError(code, { status: context.config.kiwoomErrorStatus });
}

function credentialsError(
  context: BrokerContext,
  appKey: unknown,
  secret: unknown,
): Answer | undefined {
  const verdict = context.state.checkCredentials("KIWOOM", context.environment, appKey, secret);
  switch (verdict) {
    case "ok":
      return undefined;
    case "missing_key":
    case "missing_secret":
      return failure(context, "8020");
    case "invalid":
      return failure(context, "8001");
    // A key of the other environment, on either host.
    case "other_environment":
      return failure(context, "8030");
  }
}

/** The three rate-limit shapes seen live: HTTP 429, HTTP 200 with group 5, HTTP 200 with the code as return_code. */
function rateLimit(apiId: string, shape: number): Answer {
  const answer = kiwoomError("1700", { apiId });
  if (shape === 0) return answer;
  const body = answer.body as { return_code: number; return_msg: string };
  return {
    status: 200,
    body: shape === 1 ? body : { return_code: 1700, return_msg: body.return_msg },
  };
}

function issue(request: BrokerRequest, context: BrokerContext): Answer {
  const { state, environment, config } = context;
  const { appkey, secretkey } = request.body;
  const refused = credentialsError(context, appkey, secretkey);
  if (refused) return refused;
  const appKey = appkey as string;
  const last = state.keyState("KIWOOM", environment, appKey).lastIssueAt;
  if (config.kiwoomIssueIntervalMs > 0 && state.now() - last < config.kiwoomIssueIntervalMs) {
    state.recordRejection("1700");
    return rateLimit("au10001", 0);
  }
  const record = state.createToken("KIWOOM", environment, appKey, request.remoteAddress);
  state.recordIssue("KIWOOM", environment, appKey);
  return {
    status: 200,
    body: {
      expires_dt: formatKoreaTime(new Date(record.expiresAt), "compact"),
      token_type: "bearer",
      token: record.token,
      ...OK,
    },
  };
}

function revoke(request: BrokerRequest, context: BrokerContext): Answer {
  const { appkey, secretkey, token } = request.body;
  const refused = credentialsError(context, appkey, secretkey);
  if (refused) return refused;
  const verdict = context.state.checkToken(
    "KIWOOM",
    context.environment,
    typeof token === "string" ? token : undefined,
    appkey as string,
  );
  if (!verdict.ok) return failure(context, "8005");
  context.state.revoke(verdict.record);
  return { status: 200, body: { ...OK } };
}

function stockInfo(request: BrokerRequest, context: BrokerContext): Answer {
  const verdict = context.state.checkToken("KIWOOM", context.environment, bearer(request.headers));
  if (!verdict.ok) {
    return failure(context, verdict.why === "other_environment" ? "8031" : "8005");
  }
  // Kiwoom binds a token to the IP that issued it.
  if (verdict.record.issuedFrom !== request.remoteAddress) return failure(context, "8010");
  const stockCode = typeof request.body.stk_cd === "string" ? request.body.stk_cd : "005930";
  return {
    status: 200,
    body: { stk_cd: stockCode, cur_prc: "+71000", ...OK },
    headers: { "api-id": header(request.headers, "api-id") ?? "ka10001" },
  };
}

/** Kiwoom REST: au10001, au10002 and one stock-info endpoint that checks the bearer token. */
export const kiwoomSandbox: SandboxBroker = {
  isTokenEndpoint: (request) => request.path === TOKEN_PATH || request.path === REVOKE_PATH,

  rateLimitAnswer(request, random) {
    return rateLimit(request.path === TOKEN_PATH ? "au10001" : "au10002", Math.floor(random() * 3));
  },

  handle(request, context) {
    if (request.method !== "POST") return undefined;
    if (request.path === TOKEN_PATH) return issue(request, context);
    if (request.path === REVOKE_PATH) return revoke(request, context);
    if (request.path === STOCK_INFO_PATH) return stockInfo(request, context);
    return undefined;
  },
};

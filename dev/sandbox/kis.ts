import { randomUUID } from "node:crypto";
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
const APPROVAL_PATH = "/oauth2/Approval";
const PRICE_PATH = "/uapi/domestic-stock/v1/quotations/inquire-price";
const ORDER_PATH = "/uapi/domestic-stock/v1/trading/order-cash";
const PRICE_TR_ID = "FHKST01010100";
/** Cash order buy/sell, current and older ids; paper's twins start with V. */
const REAL_ORDER_TR_IDS = new Set(["TTTC0012U", "TTTC0011U", "TTTC0802U", "TTTC0801U"]);
const PAPER_ORDER_TR_IDS = new Set([...REAL_ORDER_TR_IDS].map((id) => `V${id.slice(1)}`));
const ORDER_FIELDS = ["CANO", "ACNT_PRDT_CD", "PDNO", "ORD_DVSN", "ORD_QTY", "ORD_UNPR"];

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

/**
 * The websocket approval key: `{grant_type, appkey, secretkey}`, the app
 * secret in `secretkey` (a body sending `appsecret` instead, as at tokenP, is
 * refused as a missing secret). A new key every time, valid 24 hours.
 */
function approval(request: BrokerRequest, context: BrokerContext): Answer {
  const { grant_type, appkey, secretkey } = request.body;
  const refused = credentialsError(context, appkey, secretkey);
  if (refused) return refused;
  if (grant_type !== "client_credentials") return gatewayError(context, "EGW00002");
  context.state.stats.approvalKeys.issued += 1;
  const approvalKey = randomUUID();
  context.state.approvalKeys.set(approvalKey, {
    appKey: appkey as string,
    environment: context.environment,
  });
  return { status: 200, body: { approval_key: approvalKey } };
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

/** A call answer in KIS's normal shape; the gateway-level EGW codes come with HTTP 500. */
function callAnswer(
  code: string,
  message: string,
  extra: { status?: number; output?: unknown; trId?: string } = {},
): Answer {
  const ok = code === "MCA00000" || code.startsWith("APBK");
  return {
    status: extra.status ?? (code.startsWith("EGW") ? 500 : 200),
    body: {
      rt_cd: ok ? "0" : "1",
      msg_cd: code,
      msg1: message,
      ...(extra.output ? { output: extra.output } : {}),
    },
    headers: {
      tr_id: extra.trId ?? "",
      tr_cont: "D",
      gt_uid: `sandbox${Math.floor(Math.random() * 1e12)}`,
    },
  };
}

/**
 * What every KIS call goes through before its own logic: the token (with the
 * app key it was issued to), then the app key's per-second limit.
 */
function guardCall(request: BrokerRequest, context: BrokerContext): Answer | undefined {
  const verdict = context.state.checkToken(
    "KIS",
    context.environment,
    bearer(request.headers),
    header(request.headers, "appkey"),
  );
  if (!verdict.ok) return tokenError(context, verdict);
  const limit = context.config.callsPerSecond.KIS[context.environment];
  if (
    !context.state.admitCall(
      "KIS",
      context.environment,
      verdict.record.appKey,
      limit,
      request.arrivedAt,
    )
  ) {
    context.state.recordRejection("EGW00201");
    return callAnswer("EGW00201", "초당 거래건수를 초과하였습니다.");
  }
  return undefined;
}

function unknownTrId(trId: string | undefined): Answer {
  return callAnswer("OPSQ0002", "없는 서비스 코드 입니다", { trId: trId ?? "" });
}

function inquirePrice(request: BrokerRequest, context: BrokerContext): Answer {
  const refused = guardCall(request, context);
  if (refused) return refused;
  const trId = header(request.headers, "tr_id");
  if (trId !== PRICE_TR_ID) return unknownTrId(trId);
  return callAnswer("MCA00000", "정상처리 되었습니다.", {
    trId,
    output: {
      stck_shrn_iscd: request.query.get("FID_INPUT_ISCD") ?? "005930",
      stck_prpr: "71000",
    },
  });
}

function orderCash(request: BrokerRequest, context: BrokerContext): Answer {
  const refused = guardCall(request, context);
  if (refused) return refused;
  const trId = header(request.headers, "tr_id") ?? "";
  if (context.environment === "paper" && /^[TJC]/.test(trId)) {
    // A real trading tr_id on the paper host (BROKERS.md).
    context.state.recordRejection("EGW00213");
    return callAnswer("EGW00213", "모의투자 TR 이 아닙니다.", { trId });
  }
  const known = context.environment === "paper" ? PAPER_ORDER_TR_IDS : REAL_ORDER_TR_IDS;
  if (!known.has(trId)) return unknownTrId(trId);
  const missing = ORDER_FIELDS.filter((field) => typeof request.body[field] !== "string");
  if (missing.length > 0) {
    return callAnswer("OPSQ2001", `필수항목 누락 (${missing.join(", ")})`, { trId });
  }
  return callAnswer("APBK0013", "주문 전송 완료 되었습니다.", {
    trId,
    output: {
      KRX_FWDG_ORD_ORGNO: "91252",
      ODNO: String(Math.floor(Math.random() * 1e10)).padStart(10, "0"),
      ORD_TMD: "090000",
    },
  });
}

/** Counts a call's answer in the stats by its msg_cd. */
function counted(request: BrokerRequest, context: BrokerContext, answer: Answer): Answer {
  const body = answer.body as { msg_cd?: string };
  context.state.recordCall(
    `KIS ${context.environment} ${request.method} ${request.path}`,
    body.msg_cd ?? String(answer.status),
  );
  return answer;
}

/** KIS Developers: tokenP, revokeP, a quotation and the cash order, each call checking token, app key, limit and tr_id. */
export const kisSandbox: SandboxBroker = {
  isTokenEndpoint: (request) =>
    request.path === TOKEN_PATH || request.path === REVOKE_PATH || request.path === APPROVAL_PATH,

  rateLimitAnswer(request) {
    return request.path === TOKEN_PATH ? kisError("EGW00133", true) : kisError("EGW00201", false);
  },

  handle(request, context) {
    if (request.method === "POST" && request.path === TOKEN_PATH) return issue(request, context);
    if (request.method === "POST" && request.path === REVOKE_PATH) return revoke(request, context);
    if (request.method === "POST" && request.path === APPROVAL_PATH)
      return approval(request, context);
    if (request.method === "GET" && request.path === PRICE_PATH)
      return counted(request, context, inquirePrice(request, context));
    if (request.method === "POST" && request.path === ORDER_PATH)
      return counted(request, context, orderCash(request, context));
    return undefined;
  },
};

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
import { accountLabel, type BookedOrder, page } from "./orders";
import { KIS_ISSUE_INTERVAL_MS, KIS_REUSE_WINDOW_MS, type TokenVerdict } from "./state";

const TOKEN_PATH = "/oauth2/tokenP";
const REVOKE_PATH = "/oauth2/revokeP";
const APPROVAL_PATH = "/oauth2/Approval";
const PRICE_PATH = "/uapi/domestic-stock/v1/quotations/inquire-price";
const ORDER_PATH = "/uapi/domestic-stock/v1/trading/order-cash";
const CREDIT_ORDER_PATH = "/uapi/domestic-stock/v1/trading/order-credit";
const DAY_ORDERS_PATH = "/uapi/domestic-stock/v1/trading/inquire-daily-ccld";
const PRICE_TR_ID = "FHKST01010100";
/** Cash order buy/sell, current and older ids, by side; paper's twins start with V. */
const ORDER_SIDES: Record<string, "buy" | "sell"> = {
  TTTC0012U: "buy",
  TTTC0011U: "sell",
  TTTC0802U: "buy",
  TTTC0801U: "sell",
};
const REAL_ORDER_TR_IDS = new Set(Object.keys(ORDER_SIDES));
const PAPER_ORDER_TR_IDS = new Set([...REAL_ORDER_TR_IDS].map((id) => `V${id.slice(1)}`));
/** Credit order buy/sell (KIS's own samples); there is no paper version. */
const CREDIT_SIDES: Record<string, "buy" | "sell"> = { TTTC0052U: "buy", TTTC0051U: "sell" };
const CREDIT_FIELDS = ["CRDT_TYPE", "LOAN_DT"];
/** The day's orders within 3 months (inquire-daily-ccld), real and paper. */
const DAY_ORDERS_TR_IDS = { real: "TTTC0081R", paper: "VTTC0081R" };
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
  // Success codes: queries MCA00000, an accepted order APBK0013 (other APBK codes refuse an order).
  const ok = code === "MCA00000" || code === "APBK0013";
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
function guardCall(request: BrokerRequest, context: BrokerContext): Answer | { appKey: string } {
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
  return { appKey: verdict.record.appKey };
}

function unknownTrId(trId: string | undefined): Answer {
  return callAnswer("OPSQ0002", "없는 서비스 코드 입니다", { trId: trId ?? "" });
}

function inquirePrice(request: BrokerRequest, context: BrokerContext): Answer {
  const guard = guardCall(request, context);
  if ("status" in guard) return guard;
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

/** The book of one account: the app key's (one KIS app key per account) CANO-ACNT_PRDT_CD. */
function kisAccount(context: BrokerContext, appKey: string, cano: string, product: string) {
  const accountNumber = `${cano}${product}`;
  return {
    accountNumber,
    label: accountLabel({ broker: "KIS", environment: context.environment, appKey, accountNumber }),
  };
}

/** order-cash and order-credit: the same fields (credit adds CRDT_TYPE and LOAN_DT), booked alike. */
function order(request: BrokerRequest, context: BrokerContext, credit: boolean): Answer {
  const guard = guardCall(request, context);
  if ("status" in guard) return guard;
  const trId = header(request.headers, "tr_id") ?? "";
  if (context.environment === "paper" && /^[TJC]/.test(trId)) {
    // A real trading tr_id on the paper host (BROKERS.md).
    context.state.recordRejection("EGW00213");
    return callAnswer("EGW00213", "모의투자 TR 이 아닙니다.", { trId });
  }
  const known = credit
    ? new Set(context.environment === "paper" ? [] : Object.keys(CREDIT_SIDES))
    : context.environment === "paper"
      ? PAPER_ORDER_TR_IDS
      : REAL_ORDER_TR_IDS;
  if (!known.has(trId)) return unknownTrId(trId);
  const fields = credit ? [...ORDER_FIELDS, ...CREDIT_FIELDS] : ORDER_FIELDS;
  const missing = fields.filter((field) => typeof request.body[field] !== "string");
  if (missing.length > 0) {
    return callAnswer("OPSQ2001", `필수항목 누락 (${missing.join(", ")})`, { trId });
  }
  const field = (name: string) => request.body[name] as string;
  const account = kisAccount(context, guard.appKey, field("CANO"), field("ACNT_PRDT_CD"));
  const booked = context.state.orders.book(
    account.label,
    {
      symbol: field("PDNO"),
      side: (credit ? CREDIT_SIDES[trId] : ORDER_SIDES[`T${trId.slice(1)}`]) ?? "buy",
      quantity: field("ORD_QTY"),
      price: field("ORD_UNPR"),
    },
    new Date(context.state.now()),
    10,
  );
  context.state.recordOrder(account.label);
  // The websocket's execution notices: accepted, then filled at once (the sandbox's market).
  context.state.emitBookedAndFilled({
    broker: "KIS",
    environment: context.environment,
    appKey: guard.appKey,
    accountNumber: account.accountNumber,
    booked,
  });
  return callAnswer("APBK0013", "주문 전송 완료 되었습니다.", {
    trId,
    output: { KRX_FWDG_ORD_ORGNO: "91252", ODNO: booked.orderNo, ORD_TMD: booked.time },
  });
}

/** One output1 row of inquire-daily-ccld, with the real (lower-case) field names and the fills so far. */
function dayOrderRow(order: BookedOrder) {
  const quantity = Number.parseInt(order.quantity, 10) || 0;
  const price = Number.parseInt(order.price, 10) || 0;
  return {
    ord_dt: order.date,
    ord_gno_brno: "91252",
    odno: order.orderNo,
    orgn_odno: "",
    ord_dvsn_name: "지정가",
    sll_buy_dvsn_cd: order.side === "sell" ? "01" : "02",
    sll_buy_dvsn_cd_name: order.side === "sell" ? "현금매도" : "현금매수",
    pdno: order.symbol,
    prdt_name: "",
    ord_qty: order.quantity,
    ord_unpr: order.price,
    ord_tmd: order.time,
    tot_ccld_qty: String(order.filled),
    // The sandbox fills at the order's price, so the average is the price.
    avg_prvs: order.filled > 0 ? order.price : "0",
    cncl_yn: "N",
    tot_ccld_amt: String(order.filled * price),
    rmn_qty: String(quantity - order.filled),
    rjct_qty: "0",
    excg_id_dvsn_cd: "KRX",
  };
}

const DAY_ORDER_QUERY = ["CANO", "ACNT_PRDT_CD", "INQR_STRT_DT", "INQR_END_DT"];

/**
 * inquire-daily-ccld: the account's orders between two Korea dates, filtered
 * by side (SLL_BUY_DVSN_CD 00/01/02), PDNO and ODNO, newest first (INQR_DVSN
 * 00) or oldest first (01); pages of dayOrdersPageSize rows continued with
 * CTX_AREA_FK100/NK100 and the tr_cont header (F/M more follows, D/E last).
 */
function dayOrders(request: BrokerRequest, context: BrokerContext): Answer {
  const guard = guardCall(request, context);
  if ("status" in guard) return guard;
  const trId = header(request.headers, "tr_id");
  if (trId !== DAY_ORDERS_TR_IDS[context.environment]) return unknownTrId(trId);
  const query = (name: string) => request.query.get(name) ?? "";
  const missing = DAY_ORDER_QUERY.filter((name) => query(name) === "");
  if (missing.length > 0) {
    return callAnswer("OPSQ2001", `필수항목 누락 (${missing.join(", ")})`, { trId });
  }
  const account = kisAccount(context, guard.appKey, query("CANO"), query("ACNT_PRDT_CD")).label;
  const side = { "01": "sell", "02": "buy" }[query("SLL_BUY_DVSN_CD")];
  const rows: BookedOrder[] = [];
  for (let day = query("INQR_STRT_DT"); day <= query("INQR_END_DT"); day = nextDay(day)) {
    rows.push(...context.state.orders.day(account, day));
  }
  const matching = rows.filter(
    (order) =>
      (!side || order.side === side) &&
      (!query("PDNO") || order.symbol === query("PDNO")) &&
      (!query("ODNO") || order.orderNo === query("ODNO")),
  );
  if (query("INQR_DVSN") !== "01") matching.reverse();
  const continued = header(request.headers, "tr_cont") === "N";
  const offset = continued ? Number(query("CTX_AREA_NK100")) || 0 : 0;
  const { rows: pageRows, next } = page(matching, offset, context.config.dayOrdersPageSize);
  const answer = callAnswer("MCA00000", "조회가 완료되었습니다.", { trId });
  const more = next !== undefined;
  return {
    ...answer,
    body: {
      ctx_area_fk100: query("CANO"),
      ctx_area_nk100: more ? String(next) : "",
      output1: pageRows.map(dayOrderRow),
      output2: {
        tot_ord_qty: String(matching.length),
        tot_ccld_qty: String(matching.reduce((sum, order) => sum + order.filled, 0)),
        prsm_tlex_smtl: "0",
      },
      ...(answer.body as object),
    },
    headers: { ...answer.headers, tr_cont: continued ? (more ? "M" : "E") : more ? "F" : "D" },
  };
}

/** YYYYMMDD of the next calendar day. */
function nextDay(date: string): string {
  const at = new Date(Date.UTC(+date.slice(0, 4), +date.slice(4, 6) - 1, +date.slice(6, 8) + 1));
  return at.toISOString().slice(0, 10).replaceAll("-", "");
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

/** KIS Developers: tokenP, revokeP, a quotation, the cash and credit orders and the day orders, each call checking token, app key, limit and tr_id. */
export const kisSandbox: SandboxBroker = {
  isTokenEndpoint: (request) =>
    request.path === TOKEN_PATH || request.path === REVOKE_PATH || request.path === APPROVAL_PATH,

  orderPaths: new Set([ORDER_PATH, CREDIT_ORDER_PATH]),

  orderRefusal: (request) =>
    callAnswer("APBK0919", "주문가능금액을 초과 하였습니다.", {
      trId: header(request.headers, "tr_id") ?? "",
    }),

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
      return counted(request, context, order(request, context, false));
    if (request.method === "POST" && request.path === CREDIT_ORDER_PATH)
      return counted(request, context, order(request, context, true));
    if (request.method === "GET" && request.path === DAY_ORDERS_PATH)
      return counted(request, context, dayOrders(request, context));
    return undefined;
  },
};

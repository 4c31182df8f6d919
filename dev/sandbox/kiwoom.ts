import { formatKoreaTime } from "../../core/brokers";
import {
  type Answer,
  type BrokerContext,
  type BrokerRequest,
  bearer,
  header,
  type SandboxBroker,
  textField,
} from "./answers";
import { kiwoomError } from "./codes";
import { accountLabel, type BookedOrder, page } from "./orders";

const TOKEN_PATH = "/oauth2/token";
const REVOKE_PATH = "/oauth2/revoke";
const STOCK_INFO_PATH = "/api/dostk/stkinfo";
const ORDER_PATH = "/api/dostk/ordr";
const ACCOUNT_PATH = "/api/dostk/acnt";
/** The api-ids each call path serves. */
const API_IDS: Record<string, readonly string[]> = {
  [STOCK_INFO_PATH]: ["ka10001"],
  [ORDER_PATH]: ["kt10000", "kt10001"],
  [ACCOUNT_PATH]: ["kt00007"],
};
/** Orders are paced apart from queries: 5/s each per app key (BROKERS.md). */
const ORDER_PATHS: ReadonlySet<string> = new Set([ORDER_PATH]);
const ORDER_FIELDS = ["dmst_stex_tp", "stk_cd", "ord_qty", "trde_tp"];
const OK = { return_code: 0, return_msg: "정상적으로 처리되었습니다" };

/** A Kiwoom error in the real shape (prefixed return_msg, coarse return_code), counted. */
function failure(context: BrokerContext, code: string, message?: string): Answer {
  context.state.recordRejection(code);
  return kiwoomError(code, { status: context.config.kiwoomErrorStatus, message });
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
  const record = state.createToken("KIWOOM", environment, appKey, request.clientIp);
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

/**
 * What every Kiwoom call goes through: the token (from this host, and from
 * the address that issued it), the app key's per-second limit, the api-id.
 */
function guardCall(request: BrokerRequest, context: BrokerContext): Answer | { appKey: string } {
  const apiId = header(request.headers, "api-id") ?? "";
  const token = bearer(request.headers);
  if (!token) return failure(context, "1513", "헤더 authorization 값이 없습니다");
  const verdict = context.state.checkToken("KIWOOM", context.environment, token);
  if (!verdict.ok) return failure(context, verdict.why === "other_environment" ? "8031" : "8005");
  const { record } = verdict;
  if (record.issuerIp !== undefined && record.issuerIp !== request.clientIp) {
    return failure(context, "8010");
  }
  const limit = context.config.callsPerSecond.KIWOOM[context.environment];
  if (
    !context.state.admitCall(
      "KIWOOM",
      context.environment,
      record.appKey,
      limit,
      request.arrivedAt,
      ORDER_PATHS.has(request.path) ? "order" : "query",
    )
  ) {
    context.state.recordRejection("1700");
    return rateLimit(apiId || "unknown", 0);
  }
  if (!API_IDS[request.path]?.includes(apiId)) {
    return failure(
      context,
      "1504",
      `해당 URI에서는 지원하지 않는 API ID입니다 (${apiId || "없음"})`,
    );
  }
  return { appKey: record.appKey };
}

function pagingHeaders(request: BrokerRequest): Record<string, string> {
  return { "api-id": header(request.headers, "api-id") ?? "", "cont-yn": "N", "next-key": "" };
}

function stockInfo(request: BrokerRequest, context: BrokerContext): Answer {
  const guard = guardCall(request, context);
  if ("status" in guard) return guard;
  const stockCode = typeof request.body.stk_cd === "string" ? request.body.stk_cd : "005930";
  return {
    status: 200,
    body: { stk_cd: stockCode, cur_prc: "+71000", ...OK },
    headers: pagingHeaders(request),
  };
}

/** A Kiwoom account is its app key's (the token names no account number). */
function kiwoomAccount(context: BrokerContext, appKey: string): string {
  return accountLabel({
    broker: "KIWOOM",
    environment: context.environment,
    appKey,
    accountNumber: "",
  });
}

function order(request: BrokerRequest, context: BrokerContext): Answer {
  const guard = guardCall(request, context);
  if ("status" in guard) return guard;
  const missing = ORDER_FIELDS.filter((field) => typeof request.body[field] !== "string");
  if (missing.length > 0) {
    return failure(
      context,
      "1511",
      `필수 입력 값에 값이 존재하지 않습니다 (${missing.join(", ")})`,
    );
  }
  const account = kiwoomAccount(context, guard.appKey);
  const booked = context.state.orders.book(
    account,
    {
      symbol: request.body.stk_cd as string,
      side: header(request.headers, "api-id") === "kt10001" ? "sell" : "buy",
      quantity: request.body.ord_qty as string,
      price: textField(request.body, "ord_uv") ?? "0",
    },
    new Date(context.state.now()),
    7,
  );
  context.state.recordOrder(account);
  // REAL 00 on the websocket: accepted, then filled at once (the sandbox's market).
  context.state.emitBookedAndFilled({
    broker: "KIWOOM",
    environment: context.environment,
    appKey: guard.appKey,
    // Kiwoom's order names no account (the token does): the hub routes by the app key's account.
    accountNumber: "",
    booked,
  });
  return {
    status: 200,
    body: { ord_no: booked.orderNo, dmst_stex_tp: request.body.dmst_stex_tp, ...OK },
    headers: pagingHeaders(request),
  };
}

/** One acnt_ord_cntr_prps_dtl row of kt00007, with the real field names and the fills so far. */
function dayOrderRow(order: BookedOrder) {
  const quantity = Number.parseInt(order.quantity, 10) || 0;
  return {
    ord_no: order.orderNo,
    stk_cd: order.symbol,
    trde_tp: "보통",
    crd_tp: "",
    ord_qty: order.quantity,
    ord_uv: order.price,
    cnfm_qty: order.quantity,
    acpt_tp: "접수",
    rsrv_tp: "",
    ord_tm: order.time,
    ori_ord: "",
    stk_nm: "",
    io_tp_nm: order.side === "sell" ? "현금매도" : "현금매수",
    cntr_qty: String(order.filled),
    // The sandbox fills at the order's price.
    cntr_uv: order.filled > 0 ? order.price : "0",
    ord_remnq: String(quantity - order.filled),
    mdfy_cncl: "",
    dmst_stex_tp: "KRX",
    cond_uv: "0",
  };
}

/**
 * kt00007 (order/fill detail): the account's orders of `ord_dt` (YYYYMMDD,
 * Korea), filtered by sell_tp (0 all, 1 sell, 2 buy), stk_cd and from
 * fr_ord_no, in order (qry_tp 1) or reversed (2); pages of dayOrdersPageSize
 * rows continued with the cont-yn: Y and next-key headers.
 */
function dayOrders(request: BrokerRequest, context: BrokerContext): Answer {
  const guard = guardCall(request, context);
  if ("status" in guard) return guard;
  const field = (name: string) => textField(request.body, name) ?? "";
  if (!/^\d{8}$/.test(field("ord_dt"))) {
    return failure(context, "1511", "필수 입력 값에 값이 존재하지 않습니다 (ord_dt)");
  }
  const side = { "1": "sell", "2": "buy" }[field("sell_tp")];
  const rows = context.state.orders
    .day(kiwoomAccount(context, guard.appKey), field("ord_dt"))
    .filter(
      (order) =>
        (!side || order.side === side) &&
        (!field("stk_cd") || order.symbol === field("stk_cd")) &&
        (!field("fr_ord_no") || order.orderNo >= field("fr_ord_no")),
    );
  if (field("qry_tp") === "2") rows.reverse();
  const continued = header(request.headers, "cont-yn") === "Y";
  const offset = continued ? Number(header(request.headers, "next-key")) || 0 : 0;
  const { rows: pageRows, next } = page(rows, offset, context.config.dayOrdersPageSize);
  return {
    status: 200,
    body: { acnt_ord_cntr_prps_dtl: pageRows.map(dayOrderRow), ...OK },
    headers: {
      "api-id": "kt00007",
      "cont-yn": next === undefined ? "N" : "Y",
      "next-key": next === undefined ? "" : String(next),
    },
  };
}

/** Counts a call's answer in the stats by the code in its message, or its return_code. */
function counted(request: BrokerRequest, context: BrokerContext, answer: Answer): Answer {
  const body = answer.body as { return_code?: number; return_msg?: string };
  const code =
    /\[(\d+):/.exec(body.return_msg ?? "")?.[1] ?? String(body.return_code ?? answer.status);
  context.state.recordCall(`KIWOOM ${context.environment} ${request.method} ${request.path}`, code);
  return answer;
}

/** Kiwoom REST: au10001, au10002, stock info (ka10001) and orders (kt10000/kt10001), each call checking token, issuing IP, limit and api-id. */
export const kiwoomSandbox: SandboxBroker = {
  isTokenEndpoint: (request) => request.path === TOKEN_PATH || request.path === REVOKE_PATH,

  orderPaths: ORDER_PATHS,

  orderRefusal: (request) => ({
    status: 200,
    body: { return_code: 2, return_msg: "[2000:주문가능금액을 초과하였습니다]" },
    headers: pagingHeaders(request),
  }),

  rateLimitAnswer(request, random) {
    return rateLimit(request.path === TOKEN_PATH ? "au10001" : "au10002", Math.floor(random() * 3));
  },

  handle(request, context) {
    if (request.method !== "POST") return undefined;
    if (request.path === TOKEN_PATH) return issue(request, context);
    if (request.path === REVOKE_PATH) return revoke(request, context);
    if (request.path === STOCK_INFO_PATH)
      return counted(request, context, stockInfo(request, context));
    if (request.path === ORDER_PATH) return counted(request, context, order(request, context));
    if (request.path === ACCOUNT_PATH)
      return counted(request, context, dayOrders(request, context));
    return undefined;
  },
};

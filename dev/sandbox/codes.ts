import type { Answer } from "./answers";

/**
 * Kiwoom's error table as the real servers send it: `return_code` is only a
 * coarse group (2 input error, 3 authentication failed, 5 too many requests)
 * and the specific code sits inside `return_msg` after the group's text,
 * e.g. "인증에 실패했습니다[8005:Token이 유효하지 않습니다]" (BROKERS.md).
 */
const KIWOOM_CODES: Record<string, [group: 2 | 3 | 5, message: string]> = {
  "1501": [2, "API ID가 Null이거나 값이 없습니다"],
  "1504": [2, "해당 URI에서는 지원하는 API ID가 아닙니다"],
  "1505": [2, "해당 API ID는 존재하지 않습니다"],
  "1511": [2, "필수 입력 값에 값이 존재하지 않습니다"],
  "1512": [2, "Http header에 값이 설정되지 않았거나 읽을 수 없습니다"],
  "1513": [3, "Http Header에 authorization 필드가 설정되어 있어야 합니다"],
  "1514": [3, "입력으로 들어온 Http Header의 authorization 필드 형식이 맞지 않습니다"],
  "1515": [3, "Http Header의 authorization 필드 내 Grant Type이 미리 정의된 형식이 아닙니다"],
  "1516": [3, "Http Header의 authorization 필드 내 Token이 정의되어 있지 않습니다"],
  "1517": [2, "입력 값 형식이 올바르지 않습니다"],
  "1687": [5, "재귀 호출이 발생하여 API 호출을 제한합니다"],
  "1700": [5, "허용된 요청 개수를 초과하였습니다"],
  "1701": [5, "허용된 요청 개수를 초과하였습니다(전체)"],
  "1702": [5, "허용된 요청 개수를 초과하였습니다(그룹)"],
  "1901": [2, "시장 코드값이 존재하지 않습니다"],
  "1902": [2, "종목 정보가 없습니다"],
  "1903": [2, "종목 코드값이 올바르지 않습니다"],
  "1999": [2, "예기치 못한 에러가 발생했습니다"],
  "8001": [3, "App Key와 Secret Key 검증에 실패했습니다"],
  "8002": [3, "App Key와 Secret Key 검증에 실패했습니다"],
  "8003": [3, "Access Token을 조회하는데 실패했습니다"],
  "8005": [3, "Token이 유효하지 않습니다"],
  "8006": [3, "Access Token을 생성하는데 실패했습니다"],
  "8009": [3, "Access Token을 발급하는데 실패했습니다"],
  "8010": [3, "Token을 발급받은 IP와 서비스를 요청한 IP가 동일하지 않습니다"],
  "8011": [2, "grant_type이 들어오지 않았습니다"],
  "8012": [2, "grant_type 값이 잘못되었습니다"],
  "8015": [3, "Access Token을 폐기하는데 실패했습니다"],
  "8016": [2, "Token 폐기시 Access Token이 들어오지 않았습니다"],
  "8020": [2, "appkey 또는 secretkey가 들어오지 않았습니다"],
  "8030": [2, "투자구분(실전/모의)이 달라서 Appkey를 사용할수가 없습니다"],
  "8031": [2, "투자구분(실전/모의)이 달라서 Token를 사용할수가 없습니다"],
  "8040": [3, "단말기 인증에 실패했습니다"],
  "8050": [3, "지정단말기 인증에 실패했습니다"],
  "8103": [3, "토큰 인증 또는 단말기인증에 실패했습니다"],
  "8104": [2, "모의투자에서는 지원하지 않는 API입니다"],
  "8200": [2, "법인 고객은 이용할 수 없는 API입니다"],
};

const KIWOOM_GROUP_TEXT: Record<2 | 3 | 5, string> = {
  2: "입력 값 오류입니다",
  3: "인증에 실패했습니다",
  5: "허용된 요청 개수를 초과하였습니다",
};

/**
 * A Kiwoom error in the real shape. Rate limits are HTTP 429; other errors
 * use `status` (HTTP 200 by default: clients must read both).
 */
export function kiwoomError(
  code: string,
  options: { status?: number; apiId?: string; message?: string | undefined } = {},
): Answer {
  if (code === KIWOOM_BARE_401) return { status: 401, body: "Unauthorized" };
  const [group, standard] = KIWOOM_CODES[code] ?? [3, "처리 중 오류가 발생했습니다"];
  const message = options.message ?? standard;
  const detail = code === "1700" && options.apiId ? `${message}. API ID=${options.apiId}` : message;
  return {
    status: group === 5 ? 429 : (options.status ?? 200),
    body: { return_code: group, return_msg: `${KIWOOM_GROUP_TEXT[group]}[${code}:${detail}]` },
  };
}

/** KIS gateway codes: HTTP status and message. */
const KIS_CODES: Record<string, [status: number, message: string]> = {
  EGW00001: [500, "일시적인 오류가 발생했습니다. 잠시 후 다시 시도해 주세요."],
  EGW00002: [500, "서버 에러가 발생했습니다."],
  EGW00102: [403, "AppKey는 필수입니다."],
  EGW00103: [403, "유효하지 않은 AppKey입니다."],
  EGW00104: [403, "AppSecret는 필수입니다."],
  EGW00105: [403, "유효하지 않은 AppSecret입니다."],
  EGW00121: [500, "유효하지 않은 token 입니다."],
  EGW00122: [500, "token을 찾을 수 없습니다."],
  EGW00123: [500, "기간이 만료된 token 입니다."],
  EGW00133: [403, "접근토큰 발급 잠시 후 다시 시도하세요(1분당 1회)"],
  EGW00201: [500, "초당 거래건수를 초과하였습니다."],
  EGW00206: [403, "API 사용 권한이 없습니다."],
  EGW00207: [403, "IP 주소가 없거나 유효하지 않습니다."],
  EGW00213: [500, "모의투자 TR 이 아닙니다."],
  // "Check the previous transaction": the gateway lost track of the call (BROKERS.md "Orders").
  EGW00301: [500, "처리 중 오류가 발생했습니다. 직전 거래를 반드시 확인하세요."],
  EGW00302: [500, "응답 지연이 발생했습니다. 직전 거래를 반드시 확인하세요."],
};

/**
 * A KIS error in the real shape: the token gateway (`/oauth2/…`) answers
 * {error_code, error_description}, every other endpoint {rt_cd, msg_cd, msg1}.
 */
export function kisError(code: string, gateway: boolean, status?: number): Answer {
  const [usual, message] = KIS_CODES[code] ?? [500, "처리 중 오류가 발생했습니다."];
  return {
    status: status ?? usual,
    body: gateway
      ? { error_code: code, error_description: message }
      : { rt_cd: "1", msg_cd: code, msg1: message },
  };
}

/** Kiwoom's bare HTTP 401 (no JSON body), which Kiwoom's own client takes as a token failure. */
export const KIWOOM_BARE_401 = "401";

/** Every code the sandbox can answer with (failNextCodes). */
export const SANDBOX_CODES: ReadonlySet<string> = new Set([
  ...Object.keys(KIWOOM_CODES),
  ...Object.keys(KIS_CODES),
  KIWOOM_BARE_401,
]);

/** Which broker a code belongs to. */
export function isKisCode(code: string): boolean {
  return code.startsWith("EGW");
}

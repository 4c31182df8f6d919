import { formatKoreaTime } from "../../../core/brokers";
import type { AppliedOrderEvent, SandboxState } from "../state";
import { ownerKey, type SandboxSession, type StreamContext, stampNow } from "./session";

const LOGIN_CODES: Record<string, string> = {
  "8005": "인증에 실패했습니다[8005:Token이 유효하지 않습니다]",
  "8010": "인증에 실패했습니다[8010:Token을 발급받은 IP와 서비스를 요청한 IP가 동일하지 않습니다]",
  "8031": "인증에 실패했습니다[8031:실전 Token으로 모의투자에 접속할 수 없습니다]",
};
const KICK_MESSAGE = "동일한 App key로 접속이 되었습니다. 기존 세션은 종료가 됩니다";

/** One Kiwoom frame from a client: LOGIN, REG, REMOVE or a PING echo. */
export function kiwoomMessage(
  session: SandboxSession,
  text: string,
  state: SandboxState,
  context: StreamContext,
) {
  let frame: { trnm?: unknown; token?: unknown; data?: unknown };
  try {
    frame = JSON.parse(text);
  } catch {
    return;
  }
  if (frame.trnm === "PING") return;
  if (frame.trnm === "LOGIN") {
    login(session, frame.token, state, context);
    return;
  }
  if (session.appKey === undefined) {
    context.send(
      session,
      JSON.stringify({
        trnm: String(frame.trnm),
        return_code: 1,
        return_msg: "LOGIN 후 사용하세요",
      }),
    );
    return;
  }
  if (frame.trnm === "REG" || frame.trnm === "REMOVE") {
    const entries = Array.isArray(frame.data)
      ? (frame.data as { item?: unknown; type?: unknown }[])
      : [];
    for (const entry of entries) {
      const items = Array.isArray(entry?.item) ? entry.item.map(String) : [];
      const types = Array.isArray(entry?.type) ? entry.type.map(String) : [];
      for (const type of types) {
        for (const item of items.length ? items : [""]) {
          if (frame.trnm === "REG") {
            if (!session.registrations.has(`${type}|${item}`)) context.stats.registrations += 1;
            session.registrations.add(`${type}|${item}`);
          } else session.registrations.delete(`${type}|${item}`);
        }
      }
    }
    context.send(session, JSON.stringify({ trnm: frame.trnm, return_code: 0, return_msg: "" }));
  }
}

function login(
  session: SandboxSession,
  token: unknown,
  state: SandboxState,
  context: StreamContext,
) {
  const verdict = state.checkToken(
    "KIWOOM",
    session.environment,
    typeof token === "string" ? token : undefined,
  );
  const code = !verdict.ok
    ? verdict.why === "other_environment"
      ? "8031"
      : "8005"
    : verdict.record.issuerIp !== undefined && verdict.record.issuerIp !== session.clientIp
      ? "8010"
      : undefined;
  if (code || !verdict.ok) {
    context.send(
      session,
      JSON.stringify({ trnm: "LOGIN", return_code: 3, return_msg: LOGIN_CODES[code ?? "8005"] }),
    );
    session.socket.close();
    return;
  }
  const appKey = verdict.record.appKey;
  const holder = context.owners.get(ownerKey(session, appKey));
  if (holder && holder !== session) {
    // Kiwoom: the NEW login wins, the old session is told and closed.
    context.stats.conflicts += 1;
    context.send(holder, JSON.stringify({ trnm: "SYSTEM", code: "R10001", message: KICK_MESSAGE }));
    holder.socket.close();
  }
  session.appKey = appKey;
  context.owners.set(ownerKey(session, appKey), session);
  context.stats.logins += 1;
  context.send(session, JSON.stringify({ trnm: "LOGIN", return_code: 0, return_msg: "" }));
}

export const kiwoomPing = () => JSON.stringify({ trnm: "PING" });

function extras(context: StreamContext): Record<string, string> {
  return Object.fromEntries(
    Array.from({ length: context.config.extraFields }, (_, i) => [String(99901 + i), `X${i}`]),
  );
}

/** A REAL 0B frame for `symbol`. */
export function kiwoomTradeFrame(symbol: string, price: number, context: StreamContext): string {
  const time = formatKoreaTime(new Date(), "compact").slice(8, 14);
  const values: Record<string, string> = {
    "20": time,
    "10": `+${price}`,
    "15": "+1",
    "13": "1",
    ...extras(context),
  };
  if (context.config.stamp) values.stamp = stampNow();
  return JSON.stringify({
    trnm: "REAL",
    data: [{ type: "0B", name: "주식체결", item: symbol, values }],
  });
}

/**
 * A REAL 00 frame of an order event, or undefined when the session has not
 * registered 00: 911 is this fill's quantity, 902 what remains unfilled of the
 * order after it.
 */
export function kiwoomNoticeFrame(
  session: SandboxSession,
  event: AppliedOrderEvent,
  context: StreamContext,
) {
  if (![...session.registrations].some((id) => id.startsWith("00|"))) return undefined;
  const filled = event.status === "filled";
  const values: Record<string, string> = {
    "9201": event.accountNumber,
    "9203": event.orderNumber,
    "9001": `A${event.symbol}`,
    "913": filled ? "체결" : "접수",
    "900": String(event.orderQuantity),
    "901": String(event.price),
    "902": String(Math.max(0, event.orderQuantity - event.totalFilled)),
    "907": event.side === "sell" ? "1" : "2",
    "908": formatKoreaTime(new Date(), "compact").slice(8, 14),
    "910": filled ? String(event.price) : "",
    "911": filled ? String(event.filledQuantity) : "",
    ...extras(context),
  };
  return JSON.stringify({
    trnm: "REAL",
    data: [{ type: "00", name: "주문체결", item: "", values }],
  });
}

/** Kiwoom trade registrations of a session, as symbols. */
export function kiwoomTradeSymbols(session: SandboxSession): string[] {
  return [...session.registrations].filter((id) => id.startsWith("0B|")).map((id) => id.slice(3));
}

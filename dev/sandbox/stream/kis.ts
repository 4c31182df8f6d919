import { createCipheriv, randomBytes } from "node:crypto";
import { formatKoreaTime } from "../../../core/brokers";
import {
  KIS_NOTICE_FIELDS,
  KIS_REGISTRATION_CAP,
  KIS_TRADE_FIELDS,
} from "../../../core/brokers/kis-stream";
import type { SandboxOrderEvent, SandboxState } from "../state";
import { ownerKey, type SandboxSession, type StreamContext, stampNow } from "./session";

const ascii = (length: number) => randomBytes(length).toString("base64url").slice(0, length);

/** A fresh AES key and iv for one session (KIS hands them out in every ack). */
export function kisSessionCipher() {
  return { key: ascii(32), iv: ascii(16) };
}

function answer(
  trId: string,
  trKey: string,
  rtCd: string,
  msgCd: string,
  msg1: string,
  cipher?: { key: string; iv: string },
) {
  return JSON.stringify({
    header: { tr_id: trId, tr_key: trKey, encrypt: trId.startsWith("H0STCNI") ? "Y" : "N" },
    body: {
      rt_cd: rtCd,
      msg_cd: msgCd,
      msg1,
      ...(cipher ? { output: { iv: cipher.iv, key: cipher.key } } : {}),
    },
  });
}

/** One KIS frame from a client: subscribe, remove, or a PINGPONG echo. */
export function kisMessage(
  session: SandboxSession,
  text: string,
  state: SandboxState,
  context: StreamContext,
) {
  let frame: { header?: Record<string, unknown>; body?: { input?: Record<string, unknown> } };
  try {
    frame = JSON.parse(text);
  } catch {
    context.send(
      session,
      answer("", "", "1", "OPSP0001", "JSON PARSING ERROR : invalid json format"),
    );
    return;
  }
  const header = frame.header ?? {};
  if (header.tr_id === "PINGPONG") return;
  const trId = String(frame.body?.input?.tr_id ?? "");
  const trKey = String(frame.body?.input?.tr_key ?? "");
  const approval = state.approvalKeys.get(String(header.approval_key ?? ""));
  if (!approval || approval.environment !== session.environment) {
    context.send(session, answer(trId, trKey, "1", "OPSP0011", "invalid approval : NOT FOUND"));
    return;
  }
  if (session.appKey === undefined) {
    const holder = context.owners.get(ownerKey(session, approval.appKey));
    if (holder && holder !== session && holder.socket.readyState === holder.socket.OPEN) {
      context.stats.conflicts += 1;
      context.send(session, answer(trId, trKey, "1", "OPSP8996", "ALREADY IN USE appkey"));
      session.socket.close();
      return;
    }
    session.appKey = approval.appKey;
    context.owners.set(ownerKey(session, approval.appKey), session);
  }
  const id = `${trId}|${trKey}`;
  if (header.tr_type === "2") {
    if (!session.registrations.delete(id)) {
      context.send(session, answer(trId, trKey, "1", "OPSP0003", "UNSUBSCRIBE ERROR(not found!)"));
      return;
    }
    context.send(
      session,
      answer(trId, trKey, "0", "OPSP0001", "UNSUBSCRIBE SUCCESS", session.cipher),
    );
    return;
  }
  if (session.registrations.has(id)) {
    context.send(session, answer(trId, trKey, "1", "OPSP0002", "ALREADY IN SUBSCRIBE"));
    return;
  }
  if (session.registrations.size >= KIS_REGISTRATION_CAP) {
    context.stats.capRefusals += 1;
    context.send(session, answer(trId, trKey, "1", "OPSP0008", "MAX SUBSCRIBE OVER"));
    return;
  }
  session.registrations.add(id);
  context.stats.registrations += 1;
  context.send(session, answer(trId, trKey, "0", "OPSP0000", "SUBSCRIBE SUCCESS", session.cipher));
}

export const kisPing = () =>
  JSON.stringify({
    header: { tr_id: "PINGPONG", datetime: formatKoreaTime(new Date(), "compact") },
  });

function extra(context: StreamContext): string[] {
  return Array.from({ length: context.config.extraFields }, (_, i) => `X${i}`);
}

/** A H0STCNT0 frame for `symbol` (46 fields, plus extras and the stamp when configured). */
export function kisTradeFrame(symbol: string, price: number, context: StreamContext): string {
  const now = formatKoreaTime(new Date(), "compact");
  const values: string[] = KIS_TRADE_FIELDS.map((name) => {
    switch (name) {
      case "MKSC_SHRN_ISCD":
        return symbol;
      case "STCK_CNTG_HOUR":
        return now.slice(8, 14);
      case "BSOP_DATE":
        return now.slice(0, 8);
      case "STCK_PRPR":
        return String(price);
      case "CNTG_VOL":
        return "1";
      default:
        return "0";
    }
  });
  values.push(...extra(context));
  if (context.config.stamp) values.push(stampNow());
  return `0|H0STCNT0|001|${values.join("^")}`;
}

/** The encrypted H0STCNI0/9 frame of an order event, or undefined when the session has no notice registration. */
export function kisNoticeFrame(
  session: SandboxSession,
  event: SandboxOrderEvent,
  context: StreamContext,
) {
  const trId = session.environment === "real" ? "H0STCNI0" : "H0STCNI9";
  const registration = [...session.registrations].find((id) => id.startsWith(`${trId}|`));
  if (!registration) return undefined;
  const filled = event.status === "filled";
  const values: string[] = KIS_NOTICE_FIELDS.map((name) => {
    switch (name) {
      case "CUST_ID":
        return registration.slice(trId.length + 1);
      case "ACNT_NO":
        return event.accountNumber;
      case "ODER_NO":
        return event.orderNumber;
      case "SELN_BYOV_CLS":
        return event.side === "sell" ? "01" : "02";
      case "STCK_SHRN_ISCD":
        return event.symbol;
      case "CNTG_QTY":
        return String(filled ? event.filledQuantity : event.orderQuantity);
      case "CNTG_UNPR":
        return String(event.price);
      case "STCK_CNTG_HOUR":
        return formatKoreaTime(new Date(), "compact").slice(8, 14);
      case "CNTG_YN":
        return filled ? "2" : "1";
      case "ACPT_YN":
        return "2";
      case "ODER_QTY":
        return String(event.orderQuantity);
      case "ODER_PRC":
        return String(event.price);
      default:
        return "";
    }
  });
  values.push(...extra(context));
  const cipher = createCipheriv(
    "aes-256-cbc",
    Buffer.from(session.cipher.key),
    Buffer.from(session.cipher.iv),
  );
  const payload = Buffer.concat([cipher.update(values.join("^"), "utf8"), cipher.final()]).toString(
    "base64",
  );
  return `1|${trId}|001|${payload}`;
}

/** KIS trade registrations of a session, as symbols. */
export function kisTradeSymbols(session: SandboxSession): string[] {
  return [...session.registrations]
    .filter((id) => id.startsWith("H0STCNT0|"))
    .map((id) => id.slice(9));
}

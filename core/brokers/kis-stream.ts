import { createDecipheriv } from "node:crypto";
import { koreaTimeOfDay } from "./korea-time";
import type { DayOrder } from "./orders";
import {
  type NoticeFill,
  noticeParts,
  type StreamKind,
  type StreamLogin,
  type StreamMessage,
  type StreamProtocol,
  type StreamRecord,
  type StreamRegistration,
} from "./stream-types";
import type { BrokerEnvironment } from "./types";

/** H0STCNT0 (domestic trades), by position, as KIS documents it (46 fields). */
export const KIS_TRADE_FIELDS = [
  "MKSC_SHRN_ISCD", "STCK_CNTG_HOUR", "STCK_PRPR", "PRDY_VRSS_SIGN", "PRDY_VRSS", "PRDY_CTRT",
  "WGHN_AVRG_STCK_PRC", "STCK_OPRC", "STCK_HGPR", "STCK_LWPR", "ASKP1", "BIDP1", "CNTG_VOL",
  "ACML_VOL", "ACML_TR_PBMN", "SELN_CNTG_CSNU", "SHNU_CNTG_CSNU", "NTBY_CNTG_CSNU", "CTTR",
  "SELN_CNTG_SMTN", "SHNU_CNTG_SMTN", "CCLD_DVSN", "SHNU_RATE", "PRDY_VOL_VRSS_ACML_VOL_RATE",
  "OPRC_HOUR", "OPRC_VRSS_PRPR_SIGN", "OPRC_VRSS_PRPR", "HGPR_HOUR", "HGPR_VRSS_PRPR_SIGN",
  "HGPR_VRSS_PRPR", "LWPR_HOUR", "LWPR_VRSS_PRPR_SIGN", "LWPR_VRSS_PRPR", "BSOP_DATE",
  "NEW_MKOP_CLS_CODE", "TRHT_YN", "ASKP_RSQN1", "BIDP_RSQN1", "TOTAL_ASKP_RSQN",
  "TOTAL_BIDP_RSQN", "VOL_TNRT", "PRDY_SMNS_HOUR_ACML_VOL", "PRDY_SMNS_HOUR_ACML_VOL_RATE",
  "HOUR_CLS_CODE", "MRKT_TRTM_CLS_CODE", "VI_STND_PRC",
] as const; // biome-ignore format: one row per few fields reads like KIS's table

const levels = (name: string) => Array.from({ length: 10 }, (_, i) => `${name}${i + 1}`);
/** H0STASP0 (domestic order book), by position (59 fields). */
export const KIS_QUOTE_FIELDS = [
  "MKSC_SHRN_ISCD", "BSOP_HOUR", "HOUR_CLS_CODE",
  ...levels("ASKP"), ...levels("BIDP"), ...levels("ASKP_RSQN"), ...levels("BIDP_RSQN"),
  "TOTAL_ASKP_RSQN", "TOTAL_BIDP_RSQN", "OVTM_TOTAL_ASKP_RSQN", "OVTM_TOTAL_BIDP_RSQN",
  "ANTC_CNPR", "ANTC_CNQN", "ANTC_VOL", "ANTC_CNTG_VRSS", "ANTC_CNTG_VRSS_SIGN",
  "ANTC_CNTG_PRDY_CTRT", "ACML_VOL", "TOTAL_ASKP_RSQN_ICDC", "TOTAL_BIDP_RSQN_ICDC",
  "OVTM_TOTAL_ASKP_ICDC", "OVTM_TOTAL_BIDP_ICDC", "STCK_DEAL_CLS_CODE",
]; // biome-ignore format: as above

/** H0STCNI0 / H0STCNI9 (execution notices), by position, after decryption. */
export const KIS_NOTICE_FIELDS = [
  "CUST_ID", "ACNT_NO", "ODER_NO", "OODER_NO", "SELN_BYOV_CLS", "RCTF_CLS", "ODER_KIND",
  "ODER_COND", "STCK_SHRN_ISCD", "CNTG_QTY", "CNTG_UNPR", "STCK_CNTG_HOUR", "RFUS_YN",
  "CNTG_YN", "ACPT_YN", "BRNC_NO", "ODER_QTY", "ACNT_NAME", "CNTG_ISNM", "CRDT_CLS",
  "CRDT_LOAN_DATE", "CNTG_ISNM40", "ODER_PRC",
] as const; // biome-ignore format: as above

/** The KIS registration cap per session: the 42nd is refused (OPSP0008). */
export const KIS_REGISTRATION_CAP = 41;

/** The TR that streams a kind in an environment (notices: H0STCNI0 real, H0STCNI9 paper). */
export function kisTrId(kind: StreamKind, environment: BrokerEnvironment): string | undefined {
  switch (kind) {
    case "trade":
      return "H0STCNT0";
    case "quote":
      return "H0STASP0";
    case "notice":
      return environment === "real" ? "H0STCNI0" : "H0STCNI9";
    default:
      return undefined;
  }
}

const KIND_OF_TR: Record<string, StreamKind> = {
  H0STCNT0: "trade",
  H0STASP0: "quote",
  H0STCNI0: "notice",
  H0STCNI9: "notice",
};
const FIELDS_OF_KIND: Partial<Record<StreamKind, readonly string[]>> = {
  trade: KIS_TRADE_FIELDS,
  quote: KIS_QUOTE_FIELDS,
  notice: KIS_NOTICE_FIELDS,
};

/** Encrypted TRs: their frames decrypt with the ack's key and iv. */
export function isKisEncryptedTr(trId: string): boolean {
  return trId === "H0STCNI0" || trId === "H0STCNI9";
}

/** AES-256-CBC with the ack's key and iv (both ASCII), the frame's payload base64. */
export function decryptKisPayload(payload: string, cipher: { key: string; iv: string }): string {
  const decipher = createDecipheriv(
    "aes-256-cbc",
    Buffer.from(cipher.key, "utf8"),
    Buffer.from(cipher.iv, "utf8"),
  );
  return Buffer.concat([decipher.update(payload, "base64"), decipher.final()]).toString("utf8");
}

/**
 * Names `values` by position: known names first; extra fields the broker
 * added since are kept as `_<position>` (field counts have changed before).
 */
export function namePositions(names: readonly string[], values: readonly string[]) {
  const fields: Record<string, string> = {};
  values.forEach((value, index) => {
    fields[names[index] ?? `_${index}`] = value;
  });
  return fields;
}

const koreaInstant = koreaTimeOfDay;

/**
 * A new order's notice as a day-orders row: ODER_QTY and ODER_PRC are the
 * order's (CNTG_QTY/CNTG_UNPR are the fill's), RCTF_CLS 1/2 a change or
 * cancel, RFUS_YN 1 a refusal; those and unreadable notices give none.
 */
export function kisNoticeOrder(fields: Record<string, string>): DayOrder | undefined {
  const orderNo = fields.ODER_NO?.trim();
  const symbol = fields.STCK_SHRN_ISCD?.trim();
  const side =
    fields.SELN_BYOV_CLS === "01" ? "sell" : fields.SELN_BYOV_CLS === "02" ? "buy" : undefined;
  const quantity =
    fields.ODER_QTY?.trim() || (fields.CNTG_YN === "1" ? fields.CNTG_QTY?.trim() : "");
  const price = fields.ODER_PRC?.trim() || (fields.CNTG_YN === "1" ? fields.CNTG_UNPR?.trim() : "");
  const time = fields.STCK_CNTG_HOUR?.trim() ?? "";
  const change = fields.RCTF_CLS === "1" || fields.RCTF_CLS === "2";
  if (!orderNo || !symbol || !side || !quantity || !price || !/^\d{6}$/.test(time))
    return undefined;
  if (change || fields.RFUS_YN === "1") return undefined;
  return { orderNo, symbol, side, quantity, price, time };
}

/** A fill notice (CNTG_YN 2, not a refusal) as the fill it reports; KIS gives no running total. */
export function kisNoticeFill(fields: Record<string, string>): NoticeFill | undefined {
  const orderNo = fields.ODER_NO?.trim();
  const quantity = Number(fields.CNTG_QTY?.trim());
  if (fields.CNTG_YN !== "2" || fields.RFUS_YN === "1" || !orderNo) return undefined;
  return Number.isInteger(quantity) && quantity > 0 ? { orderNo, quantity } : undefined;
}

function dataRecords(
  text: string,
  ciphers: ReadonlyMap<string, { key: string; iv: string }>,
  now: Date,
): StreamMessage {
  const [flag, trId = "", countText = "", ...rest] = text.split("|");
  const payloadText = rest.join("|");
  const kind = KIND_OF_TR[trId];
  if (!kind) return { type: "ignored", why: `unknown TR ${trId}` };
  let plain = payloadText;
  if (isKisEncryptedTr(trId)) {
    // A notice must arrive encrypted: a plaintext one is not KIS's and is dropped.
    if (flag !== "1")
      return { type: "ignored", why: `plaintext ${trId} frame dropped`, loss: true };
    const cipher = ciphers.get(trId);
    if (!cipher) return { type: "ignored", why: `no key for ${trId} yet`, loss: true };
    try {
      plain = decryptKisPayload(payloadText, cipher);
    } catch {
      return { type: "ignored", why: `${trId} frame did not decrypt`, loss: true };
    }
  }
  const values = plain.split("^");
  const count = Math.max(1, Number.parseInt(countText, 10) || 1);
  const width = Math.floor(values.length / count) || values.length;
  const names = FIELDS_OF_KIND[kind] ?? [];
  const records: StreamRecord[] = [];
  for (let index = 0; index < count; index += 1) {
    const slice = values.slice(index * width, (index + 1) * width);
    const fields = namePositions(names, slice);
    const symbol = kind === "notice" ? (fields.STCK_SHRN_ISCD ?? null) : (slice[0] ?? null);
    const at =
      kind === "trade"
        ? koreaInstant(fields.STCK_CNTG_HOUR, fields.BSOP_DATE, now)
        : kind === "quote"
          ? koreaInstant(fields.BSOP_HOUR, undefined, now)
          : koreaInstant(fields.STCK_CNTG_HOUR, undefined, now);
    records.push({
      kind,
      symbol,
      accountNumber: kind === "notice" ? (fields.ACNT_NO ?? null) : null,
      at,
      fields,
      raw: count === 1 ? `${flag}|${trId}|${countText}|${plain}` : slice.join("^"),
      ...(kind === "notice" ? noticeParts(kisNoticeOrder(fields), kisNoticeFill(fields)) : {}),
    });
  }
  return { type: "records", records };
}

function controlMessage(text: string): StreamMessage {
  let frame: {
    header?: { tr_id?: string; tr_key?: string };
    body?: {
      rt_cd?: string;
      msg_cd?: string;
      msg1?: string;
      output?: { key?: string; iv?: string };
    };
  };
  try {
    frame = JSON.parse(text);
  } catch {
    return { type: "ignored", why: "not JSON" };
  }
  const trId = frame.header?.tr_id ?? "";
  if (trId === "PINGPONG") return { type: "ping", echo: text };
  const body = frame.body ?? {};
  const code = body.msg_cd ?? "";
  const message = body.msg1 ?? "";
  if (code === "OPSP8996") return { type: "kicked", code, message };
  const kind = KIND_OF_TR[trId];
  const output = body.output;
  return {
    type: "ack",
    // OPSP0002 ALREADY IN SUBSCRIBE is not an error.
    ok: body.rt_cd === "0" || code === "OPSP0002",
    registration: kind ? { kind, key: frame.header?.tr_key ?? "" } : undefined,
    trId,
    code,
    message,
    cipher: output?.key && output.iv ? { key: output.key, iv: output.iv } : undefined,
  };
}

/** KIS's websocket. */
export const kisStream: StreamProtocol = {
  broker: "KIS",
  defaultUrls: {
    real: "ws://ops.koreainvestment.com:21000",
    paper: "ws://ops.koreainvestment.com:31000",
  },
  login: "approval_key",
  accountKey: "hts_id",
  noticeTotals: false,
  registrationCap: KIS_REGISTRATION_CAP,
  kinds: ["trade", "quote", "notice"],
  needsLogin: false,
  openingFrames: () => [],
  registrationFrames(login: StreamLogin, registrations: readonly StreamRegistration[], action) {
    return registrations.flatMap((registration) => {
      const trId = kisTrId(registration.kind, login.environment);
      if (!trId) return [];
      return [
        JSON.stringify({
          header: {
            approval_key: login.credential,
            custtype: "P",
            tr_type: action === "add" ? "1" : "2",
            "content-type": "utf-8",
          },
          body: { input: { tr_id: trId, tr_key: registration.key } },
        }),
      ];
    });
  },
  read(text, ciphers, now) {
    const first = text.charCodeAt(0);
    // Data frames start with 0 or 1; control frames are JSON.
    if (first === 48 || first === 49) return dataRecords(text, ciphers, now);
    return controlMessage(text);
  },
  // OPSP0011: invalid approval key; OPSP0010/8995: approval key expired or refused.
  isCredentialRefusal: (code) => code === "OPSP0011" || code === "OPSP0010" || code === "OPSP8995",
  isSessionConflict: (code) => code === "OPSP8996",
};

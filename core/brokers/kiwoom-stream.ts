import { readKiwoomCode } from "./kiwoom-codes";
import { koreaTimeOfDay } from "./korea-time";
import type { DayOrder } from "./orders";
import {
  type NoticeFill,
  noticeParts,
  type StreamKind,
  type StreamMessage,
  type StreamProtocol,
  type StreamRecord,
  type StreamRegistration,
} from "./stream-types";

/** Kiwoom's realtime types for our kinds. */
const TYPE_OF_KIND: Record<StreamKind, string> = {
  trade: "0B",
  quote: "0D",
  notice: "00",
  balance: "04",
};
const KIND_OF_TYPE: Record<string, StreamKind> = {
  "0B": "trade",
  "0D": "quote",
  "00": "notice",
  "04": "balance",
};

const levels = (first: number, name: string) =>
  Object.fromEntries(Array.from({ length: 10 }, (_, i) => [String(first + i), `${name}${i + 1}`]));

/** Kiwoom sends values keyed by FID number; these are the ones we name (others keep their number). */
export const KIWOOM_FIDS: Record<StreamKind, Record<string, string>> = {
  trade: {
    "20": "time", "10": "price", "11": "change", "12": "change_rate", "27": "ask1", "28": "bid1",
    "15": "volume", "13": "cumulative_volume", "14": "cumulative_amount", "16": "open",
    "17": "high", "18": "low", "25": "change_sign", "228": "strength",
  },
  quote: {
    "21": "time", ...levels(41, "ask"), ...levels(51, "bid"), ...levels(61, "ask_qty"),
    ...levels(71, "bid_qty"), "121": "total_ask_qty", "125": "total_bid_qty",
  },
  notice: {
    "9201": "account_number", "9203": "order_number", "9205": "manager_number", "9001": "symbol",
    "912": "order_business", "913": "order_status", "302": "name", "900": "order_quantity",
    "901": "order_price", "902": "unfilled_quantity", "903": "filled_amount",
    "904": "original_order_number", "905": "order_kind", "906": "trade_kind", "907": "side",
    "908": "time", "909": "fill_number", "910": "fill_price", "911": "fill_quantity",
  },
  balance: {
    "9201": "account_number", "9001": "symbol", "302": "name", "10": "price",
    "930": "quantity", "931": "average_price", "932": "total_cost", "933": "orderable_quantity",
    "945": "today_net_quantity", "946": "side", "950": "today_total_sell_pl",
  },
}; // biome-ignore format: FID tables read as tables

/** The REST token's rejections: a fresh token (issued from this address) logs in again. */
const CREDENTIAL_CODES = new Set(["8005", "8010", "8003", "8031"]);

function named(kind: StreamKind, values: Record<string, unknown>): Record<string, string> {
  const names = KIWOOM_FIDS[kind];
  const fields: Record<string, string> = {};
  for (const [fid, value] of Object.entries(values)) {
    fields[names[fid] ?? fid] = typeof value === "string" ? value : JSON.stringify(value);
  }
  return fields;
}

/**
 * A new order's 00 notice as a day-orders row: order quantity and price
 * (FID 900/901), side 907 (1 sell, 2 buy), time 908. A change, cancel or
 * refusal (905/913) and unreadable notices give none.
 */
export function kiwoomNoticeOrder(fields: Record<string, string>): DayOrder | undefined {
  const orderNo = fields.order_number?.trim();
  const symbol = fields.symbol?.trim().replace(/^A(?=\d{6}$)/, "");
  const side = fields.side === "1" ? "sell" : fields.side === "2" ? "buy" : undefined;
  const quantity = fields.order_quantity?.trim().replace(/^[+-]/, "");
  const price = fields.order_price?.trim().replace(/^[+-]/, "");
  const time = fields.time?.trim() ?? "";
  const kind = `${fields.order_kind ?? ""} ${fields.order_status ?? ""}`;
  if (!orderNo || !symbol || !side || !quantity || !price || !/^\d{6}$/.test(time))
    return undefined;
  if (/정정|취소|거부/.test(kind)) return undefined;
  return { orderNo, symbol, side, quantity, price, time };
}

function instant(time: string | undefined, now: Date): Date {
  return koreaTimeOfDay(time, undefined, now);
}

const count = (text: string | undefined) => Number(text?.trim().replace(/^[+-]/, "") || Number.NaN);

/** A 00 notice with a fill (FID 911) as the fill; its total is the order (900) less what is unfilled (902). */
export function kiwoomNoticeFill(fields: Record<string, string>): NoticeFill | undefined {
  const orderNo = fields.order_number?.trim();
  const quantity = count(fields.fill_quantity);
  if (!orderNo || !Number.isInteger(quantity) || quantity <= 0) return undefined;
  const total = count(fields.order_quantity) - count(fields.unfilled_quantity);
  return { orderNo, quantity, ...(Number.isInteger(total) && total > 0 ? { total } : {}) };
}

function realRecords(frame: { data?: unknown }, text: string, now: Date): StreamMessage {
  const entries = Array.isArray(frame.data) ? frame.data : [];
  const records: StreamRecord[] = [];
  for (const entry of entries as {
    type?: string;
    item?: string;
    values?: Record<string, unknown>;
  }[]) {
    const kind = KIND_OF_TYPE[entry?.type ?? ""];
    if (!kind || typeof entry.values !== "object" || entry.values === null) continue;
    const fields = named(kind, entry.values);
    const account = kind === "notice" || kind === "balance";
    const symbol = (account ? fields.symbol : entry.item) ?? null;
    records.push({
      kind,
      // Kiwoom prefixes some codes with A (A005930).
      symbol: symbol ? symbol.replace(/^A(?=\d{6}$)/, "") : null,
      accountNumber: account ? (fields.account_number ?? null) : null,
      at: instant(fields.time, now),
      fields,
      raw: entries.length === 1 ? text : JSON.stringify(entry),
      ...(kind === "notice"
        ? noticeParts(kiwoomNoticeOrder(fields), kiwoomNoticeFill(fields))
        : {}),
    });
  }
  return records.length
    ? { type: "records", records }
    : { type: "ignored", why: "no known REAL type" };
}

/** Kiwoom's websocket. */
export const kiwoomStream: StreamProtocol = {
  broker: "KIWOOM",
  defaultUrls: {
    real: "wss://api.kiwoom.com:10000/api/dostk/websocket",
    paper: "wss://mockapi.kiwoom.com:10000/api/dostk/websocket",
  },
  login: "access_token",
  accountKey: "none",
  noticeTotals: true,
  registrationCap: undefined,
  kinds: ["trade", "quote", "notice", "balance"],
  needsLogin: true,
  openingFrames: (login) => [JSON.stringify({ trnm: "LOGIN", token: login.credential })],
  registrationFrames(_login, registrations: readonly StreamRegistration[], action) {
    if (registrations.length === 0) return [];
    return registrations.map((registration) =>
      JSON.stringify({
        trnm: action === "add" ? "REG" : "REMOVE",
        grp_no: "1",
        refresh: "1",
        data: [{ item: [registration.key], type: [TYPE_OF_KIND[registration.kind]] }],
      }),
    );
  },
  read(text, _ciphers, now) {
    let frame: {
      trnm?: string;
      return_code?: unknown;
      return_msg?: unknown;
      code?: unknown;
      message?: unknown;
      data?: unknown;
    };
    try {
      frame = JSON.parse(text);
    } catch {
      return { type: "ignored", why: "not JSON" };
    }
    const code = readKiwoomCode(frame) ?? (typeof frame.code === "string" ? frame.code : "");
    const message = String(frame.return_msg ?? frame.message ?? "");
    switch (frame.trnm) {
      case "PING":
        return { type: "ping", echo: text };
      case "REAL":
        return realRecords(frame, text, now);
      case "LOGIN":
        return { type: "login", ok: frame.return_code === 0, code, message };
      case "REG":
      case "REMOVE":
        return { type: "ack", ok: frame.return_code === 0, code, message };
      case "SYSTEM":
        if (code === "R10001") return { type: "kicked", code, message };
        return { type: "ignored", why: `SYSTEM ${code}` };
      default:
        return { type: "ignored", why: `unknown trnm ${String(frame.trnm)}` };
    }
  },
  isCredentialRefusal: (code) => CREDENTIAL_CODES.has(code),
  isSessionConflict: (code) => code === "R10001",
};

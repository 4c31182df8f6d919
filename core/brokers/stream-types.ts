import type { DayOrder } from "./orders";
import type { Broker, BrokerEnvironment } from "./types";

/** What a client subscribes to: the same four words for both brokers. */
export const STREAM_KINDS = ["trade", "quote", "notice", "balance"] as const;
export type StreamKind = (typeof STREAM_KINDS)[number];

/** Notices and balance events are the account's own and are stored; the rest is market data. */
export function isAccountKind(kind: StreamKind): boolean {
  return kind === "notice" || kind === "balance";
}

/** One broker registration: a kind and its key (a symbol, or the account's id at the broker). */
export interface StreamRegistration {
  kind: StreamKind;
  /** The symbol for market data; for account kinds the broker's key (KIS: the HTS id; Kiwoom: ""). */
  key: string;
}

/** What the session needs to open and log in. */
export interface StreamLogin {
  environment: BrokerEnvironment;
  /** KIS: the approval key; Kiwoom: the REST access token. */
  credential: string;
}

/** One event a broker frame carried, before it is addressed to an account. */
export interface StreamRecord {
  kind: StreamKind;
  symbol: string | null;
  /** The broker's account number, for account kinds (routes the event to its account). */
  accountNumber: string | null;
  /** When the broker says it happened; the receipt time when it does not say. */
  at: Date;
  fields: Record<string, string>;
  /** The frame (a KIS notice decrypted) as received. */
  raw: string;
  /**
   * A notice of a new order (accepted or filled), as a row of the day's
   * orders: what resolves the gateway's unknown order intents. Absent for
   * changes, cancels, refusals and notices that cannot be read.
   */
  order?: DayOrder;
  /** A notice that reports a fill: what catching up after an outage is checked against. */
  fill?: NoticeFill;
}

/** One fill as a notice reports it. */
export interface NoticeFill {
  /** The broker's order number, as the notice writes it. */
  orderNo: string;
  /** Shares this fill filled. */
  quantity: number;
  /** The order's filled total after this fill, where the notice says (Kiwoom: FID 900 − 902). */
  total?: number;
}

/** A broker frame, read. */
export type StreamMessage =
  | { type: "ping"; echo: string }
  | { type: "login"; ok: boolean; code: string; message: string }
  | {
      type: "ack";
      ok: boolean;
      /** KIS: the tr_id and tr_key acknowledged; Kiwoom: undefined (acks name no item). */
      registration?: StreamRegistration | undefined;
      /** KIS: the TR acknowledged (its cipher is kept under this name). */
      trId?: string;
      code: string;
      message: string;
      /** KIS: the AES key and iv of an encrypted TR. */
      cipher?: { key: string; iv: string } | undefined;
    }
  | { type: "kicked"; code: string; message: string }
  | { type: "records"; records: StreamRecord[] }
  | {
      type: "ignored";
      why: string /** An account event that could not be read: logged as a loss. */;
      loss?: boolean;
    };

/**
 * A broker's websocket protocol: frames in and out, no socket. The session
 * (core/stream) holds the socket and the state; what is particular to one
 * broker lives here.
 */
export interface StreamProtocol {
  readonly broker: Broker;
  /** Its websocket URLs unless `<PREFIX>_REAL_WS_URL` / `<PREFIX>_PAPER_WS_URL` say otherwise (core/stream/settings.ts). */
  readonly defaultUrls: Readonly<Record<BrokerEnvironment, string>>;
  /**
   * The credential a session logs in with (StreamLogin.credential): KIS a
   * websocket approval key (BrokerClient.issueApprovalKey), Kiwoom its REST
   * access token, which a refusal invalidates before the next login.
   */
  readonly login: "approval_key" | "access_token";
  /**
   * What an account's own events (notices, balance) are registered with: KIS
   * the account's HTS id (securities_config.hts_id); Kiwoom nothing, the
   * session's login already names the accounts.
   */
  readonly accountKey: "hts_id" | "none";
  /**
   * Whether a fill notice carries its order's running total (Kiwoom: FID 900
   * less 902) or only the fill (KIS): how a catch-up from the day orders
   * tells what its notices already told (migration 0021).
   */
  readonly noticeTotals: boolean;
  /** Registrations one session may hold (KIS 41), undefined when the broker states none. */
  readonly registrationCap: number | undefined;
  /** The kinds this broker streams. */
  readonly kinds: readonly StreamKind[];
  /** Frames to send right after the socket opens (Kiwoom LOGIN). */
  openingFrames(login: StreamLogin): string[];
  /** True once the opening frames were answered (KIS: at once). */
  readonly needsLogin: boolean;
  /** Frames that register (or remove) these. */
  registrationFrames(
    login: StreamLogin,
    registrations: readonly StreamRegistration[],
    action: "add" | "remove",
  ): string[];
  /** Read one text frame; `ciphers` are the keys of encrypted TRs acknowledged so far. */
  read(
    text: string,
    ciphers: ReadonlyMap<string, { key: string; iv: string }>,
    now: Date,
  ): StreamMessage;
  /** True when a login or ack code means the credential was refused (re-login with a fresh one). */
  isCredentialRefusal(code: string): boolean;
  /** True when a code means another session holds this app key (KIS OPSP8996, Kiwoom R10001). */
  isSessionConflict(code: string): boolean;
}

/** A notice record's order and fill, where it has them. */
export function noticeParts(
  order: DayOrder | undefined,
  fill: NoticeFill | undefined,
): Pick<StreamRecord, "order" | "fill"> {
  return { ...(order ? { order } : {}), ...(fill ? { fill } : {}) };
}

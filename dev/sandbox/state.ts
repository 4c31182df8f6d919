import { randomBytes } from "node:crypto";
import type { Broker, BrokerEnvironment } from "../../core/brokers";
import type { Clock } from "../../core/clock";
import {
  type AppliedOrderEvent,
  type BookedOrder,
  OrderBooks,
  type SandboxOrderEvent,
} from "./orders";

export type { AppliedOrderEvent, SandboxOrderEvent } from "./orders";

export const TOKEN_LIFETIME_MS = 24 * 60 * 60 * 1000;
/** KIS hands back the same token when asked again within 6 hours of issuing it. */
export const KIS_REUSE_WINDOW_MS = 6 * 60 * 60 * 1000;
/** KIS: one issue per minute per app key (EGW00133). */
export const KIS_ISSUE_INTERVAL_MS = 60_000;

export interface SandboxToken {
  token: string;
  broker: Broker;
  environment: BrokerEnvironment;
  appKey: string;
  issuedAt: number;
  expiresAt: number;
  revoked: boolean;
  /** The client address that asked for it: Kiwoom accepts the token only from there (8010). */
  issuerIp: string | undefined;
}

/** Counts served at GET /_sandbox/stats. */
export interface SandboxStats {
  /** Requests to broker endpoints (token and protected), faults included. */
  requests: number;
  issued: {
    /** Successful issue answers, KIS same-token answers included. */
    total: number;
    /** Distinct tokens created. */
    newTokens: number;
    /** KakaoTalk messages KIS would send the owner: one per successful real-account issue, same-token answers included. */
    kakaoTalk: number;
    /** Successful issue answers per app key. */
    byAppKey: Record<string, number>;
    byEnvironment: Record<Broker, Record<BrokerEnvironment, number>>;
  };
  revoked: {
    /** Tokens revoked through the brokers' revoke endpoints. */
    total: number;
    /** Tokens revoked by revokeAll() (early revocation, as after maintenance). */
    early: number;
  };
  /** KIS websocket approval keys handed out (POST /oauth2/Approval). */
  approvalKeys: { issued: number };
  /** Error answers the brokers' own rules produced, by broker code (EGW00133, 8005, …); injected faults are not counted here. */
  rejections: { total: number; byCode: Record<string, number> };
  /**
   * Requests answered from `answerNext`, in order: the broker, the path and
   * the body's fields, every value but grant_type masked (they carry keys).
   */
  recorded: Array<{ broker: Broker; path: string; body: Record<string, string> }>;
  /** Injected faults by kind. */
  faults: Record<"timeout" | "server_error" | "rate_limit", number>;
  /** Orders booked (by every order path), and per account ("KIS real <app key> 50123456-01", "KIWOOM real <app key>"). */
  orders: { booked: number; byAccount: Record<string, number> };
  /** Order fault switches that fired, by kind. */
  orderFaults: Record<string, number>;
  /** API calls (everything but the token endpoints). */
  calls: {
    total: number;
    /** By "<BROKER> <environment> <METHOD> <path>". */
    byEndpoint: Record<string, number>;
    /** Answers by the broker's code: KIS msg_cd (MCA00000, EGW00201…), Kiwoom's bracketed code or return_code (0, 8005, 1700…). */
    byCode: Record<string, number>;
  };
}

export function emptyStats(): SandboxStats {
  return {
    requests: 0,
    issued: {
      total: 0,
      newTokens: 0,
      kakaoTalk: 0,
      byAppKey: {},
      byEnvironment: { KIS: { real: 0, paper: 0 }, KIWOOM: { real: 0, paper: 0 } },
    },
    revoked: { total: 0, early: 0 },
    approvalKeys: { issued: 0 },
    rejections: { total: 0, byCode: {} },
    recorded: [],
    faults: { timeout: 0, server_error: 0, rate_limit: 0 },
    orders: { booked: 0, byAccount: {} },
    orderFaults: {},
    calls: { total: 0, byEndpoint: {}, byCode: {} },
  };
}

/** Why a credentials check failed. */
export type CredentialsVerdict =
  | "ok"
  | "missing_key"
  | "missing_secret"
  | "invalid"
  | "other_environment";

/** Why a token check failed. */
export type TokenVerdict =
  | { ok: true; record: SandboxToken }
  | {
      ok: false;
      why: "missing" | "unknown" | "other_environment" | "revoked" | "expired" | "other_app_key";
    };

export interface RevokeFilter {
  broker?: Broker;
  environment?: BrokerEnvironment;
  appKey?: string;
}

/** Tokens and app keys of both brokers, judged against an injected clock. */
export class SandboxState {
  readonly tokens = new Map<string, SandboxToken>();
  /** `${broker}|${appKey}` → the environment the key was first seen in. */
  private readonly keyEnvironments = new Map<string, BrokerEnvironment>();
  /** `${broker}|${environment}|${appKey}` → last successful issue and the KIS token to hand back. */
  private readonly keys = new Map<string, { lastIssueAt: number; current?: SandboxToken }>();
  /** `${broker}|${environment}|${appKey}` → arrival times (performance.now) of admitted calls in the last second. */
  private readonly callWindows = new Map<string, number[]>();
  stats: SandboxStats = emptyStats();
  /** Every account's order book; stats reset never empties it (a broker's day does not restart). */
  readonly orders = new OrderBooks();
  /** KIS websocket approval keys handed out: the websocket accepts only these. */
  readonly approvalKeys = new Map<string, { appKey: string; environment: BrokerEnvironment }>();
  private readonly orderListeners = new Set<(event: AppliedOrderEvent) => boolean>();

  constructor(private readonly clock: Clock) {}

  /**
   * Listen to orders booked or filled (the websockets send notices); the
   * listener answers whether it delivered a frame. Returns the unsubscribe.
   */
  onOrderEvent(listener: (event: AppliedOrderEvent) => boolean): () => void {
    this.orderListeners.add(listener);
    return () => this.orderListeners.delete(listener);
  }

  /**
   * Applies an order event to its account's book (so the day's orders show
   * every fill, whether a websocket session was up to hear it or not), then
   * tells the listeners, with the shares filled so far. True when a listener
   * delivered a frame.
   */
  emitOrderEvent(event: SandboxOrderEvent): boolean {
    const totalFilled = this.orders.apply(event, new Date(this.now()));
    const applied: AppliedOrderEvent = { ...event, totalFilled };
    let delivered = false;
    for (const listener of this.orderListeners) delivered = listener(applied) || delivered;
    return delivered;
  }

  /** The two notices of an order the sandbox books and fills at once; the order is already in the book. */
  emitBookedAndFilled(order: {
    broker: Broker;
    environment: BrokerEnvironment;
    appKey: string;
    accountNumber: string;
    booked: BookedOrder;
  }): void {
    const quantity = Number.parseInt(order.booked.quantity, 10) || 0;
    const base = {
      broker: order.broker,
      environment: order.environment,
      appKey: order.appKey,
      accountNumber: order.accountNumber,
      orderNumber: order.booked.orderNo,
      symbol: order.booked.symbol,
      side: order.booked.side,
      orderQuantity: quantity,
      price: Number.parseInt(order.booked.price, 10) || 0,
    };
    this.emitOrderEvent({ ...base, status: "booked", filledQuantity: 0 });
    this.emitOrderEvent({ ...base, status: "filled", filledQuantity: quantity });
  }

  /**
   * Counts a call against its app key's per-second limit: false when `limit`
   * calls were already admitted in the last 1000 ms. Real elapsed time, not
   * the injected clock: a limit per second is about the wire.
   */
  admitCall(
    broker: Broker,
    environment: BrokerEnvironment,
    appKey: string,
    limit: number,
    arrivedAt: number,
    lane = "",
  ): boolean {
    if (limit <= 0) return true;
    const id = `${broker}|${environment}|${appKey}|${lane}`;
    const window = this.callWindows.get(id) ?? [];
    while (window.length > 0 && (window[0] as number) <= arrivedAt - 1000) window.shift();
    if (window.length >= limit) {
      this.callWindows.set(id, window);
      return false;
    }
    window.push(arrivedAt);
    this.callWindows.set(id, window);
    return true;
  }

  recordCall(endpoint: string, code: string): void {
    const calls = this.stats.calls;
    calls.total += 1;
    calls.byEndpoint[endpoint] = (calls.byEndpoint[endpoint] ?? 0) + 1;
    calls.byCode[code] = (calls.byCode[code] ?? 0) + 1;
  }

  /** Counts one booked order for its account. */
  recordOrder(account: string): void {
    this.stats.orders.booked += 1;
    this.stats.orders.byAccount[account] = (this.stats.orders.byAccount[account] ?? 0) + 1;
  }

  now(): number {
    return this.clock.now().getTime();
  }

  /** Any app key with a non-empty secret, except keys starting with INVALID; a key stays in the environment it was first used in. */
  checkCredentials(
    broker: Broker,
    environment: BrokerEnvironment,
    appKey: unknown,
    secret: unknown,
  ): CredentialsVerdict {
    if (typeof appKey !== "string" || appKey === "") return "missing_key";
    if (typeof secret !== "string" || secret === "") return "missing_secret";
    if (appKey.startsWith("INVALID")) return "invalid";
    const bound = this.keyEnvironments.get(`${broker}|${appKey}`);
    if (bound && bound !== environment) return "other_environment";
    this.keyEnvironments.set(`${broker}|${appKey}`, environment);
    return "ok";
  }

  keyState(broker: Broker, environment: BrokerEnvironment, appKey: string) {
    const id = `${broker}|${environment}|${appKey}`;
    let state = this.keys.get(id);
    if (!state) {
      state = { lastIssueAt: Number.NEGATIVE_INFINITY };
      this.keys.set(id, state);
    }
    return state;
  }

  /** A live token of this key issued within `windowMs`, if any. */
  reusable(broker: Broker, environment: BrokerEnvironment, appKey: string, windowMs: number) {
    const current = this.keyState(broker, environment, appKey).current;
    const now = this.now();
    if (
      current &&
      !current.revoked &&
      current.expiresAt > now &&
      now - current.issuedAt < windowMs
    ) {
      return current;
    }
    return undefined;
  }

  createToken(
    broker: Broker,
    environment: BrokerEnvironment,
    appKey: string,
    issuerIp?: string,
  ): SandboxToken {
    const issuedAt = this.now();
    const record: SandboxToken = {
      token: `${broker === "KIS" ? "kis" : "kw"}-${randomBytes(24).toString("base64url")}`,
      broker,
      environment,
      appKey,
      issuedAt,
      expiresAt: issuedAt + TOKEN_LIFETIME_MS,
      revoked: false,
      issuerIp,
    };
    this.tokens.set(record.token, record);
    this.keyState(broker, environment, appKey).current = record;
    this.stats.issued.newTokens += 1;
    return record;
  }

  recordIssue(broker: Broker, environment: BrokerEnvironment, appKey: string): void {
    if (broker === "KIS" && environment === "real") this.stats.issued.kakaoTalk += 1;
    this.keyState(broker, environment, appKey).lastIssueAt = this.now();
    const issued = this.stats.issued;
    issued.total += 1;
    issued.byAppKey[appKey] = (issued.byAppKey[appKey] ?? 0) + 1;
    issued.byEnvironment[broker][environment] += 1;
  }

  recordRejection(code: string): void {
    this.stats.rejections.total += 1;
    this.stats.rejections.byCode[code] = (this.stats.rejections.byCode[code] ?? 0) + 1;
  }

  /** Judge a bearer token presented to `broker`'s `environment` host. */
  checkToken(
    broker: Broker,
    environment: BrokerEnvironment,
    token: string | undefined,
    appKey?: string,
  ): TokenVerdict {
    if (!token) return { ok: false, why: "missing" };
    const record = this.tokens.get(token);
    if (!record) return { ok: false, why: "unknown" };
    if (record.broker !== broker || record.environment !== environment) {
      return { ok: false, why: "other_environment" };
    }
    if (record.revoked) return { ok: false, why: "revoked" };
    if (record.expiresAt <= this.now()) return { ok: false, why: "expired" };
    if (appKey !== undefined && appKey !== record.appKey)
      return { ok: false, why: "other_app_key" };
    return { ok: true, record };
  }

  revoke(record: SandboxToken): void {
    record.revoked = true;
    this.stats.revoked.total += 1;
  }

  /** Early revocation of every live token matching the filter; returns how many. */
  revokeAll(filter: RevokeFilter = {}): number {
    let count = 0;
    const now = this.now();
    for (const record of this.tokens.values()) {
      if (record.revoked || record.expiresAt <= now) continue;
      if (filter.broker && record.broker !== filter.broker) continue;
      if (filter.environment && record.environment !== filter.environment) continue;
      if (filter.appKey && record.appKey !== filter.appKey) continue;
      record.revoked = true;
      count += 1;
    }
    this.stats.revoked.early += count;
    return count;
  }
}

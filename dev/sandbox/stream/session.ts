import type { WebSocket } from "ws";
import type { BrokerEnvironment } from "../../../core/brokers";

/** One broker websocket the sandbox holds. */
export interface SandboxSession {
  broker: "KIS" | "KIWOOM";
  environment: BrokerEnvironment;
  socket: WebSocket;
  clientIp: string;
  /** Set once the session proved its app key (KIS: a valid approval key; Kiwoom: LOGIN). */
  appKey: string | undefined;
  /** KIS `${tr_id}|${tr_key}`, Kiwoom `${type}|${item}`. */
  registrations: Set<string>;
  /** KIS: the AES key and iv of this session's acks. */
  cipher: { key: string; iv: string };
  /** A silent drop: the sandbox neither sends nor reads, and never closes. */
  silent: boolean;
}

/** Stream settings, changed at POST /_sandbox/stream. */
export interface StreamSandboxConfig {
  /** KIS PINGPONG and Kiwoom PING, every this many ms. Default 5000. */
  pingIntervalMs: number;
  /** Fields added to every data frame (KIS: after the known ones; Kiwoom: FIDs 99901…). Default 0. */
  extraFields: number;
  /** Trades generated per second over every trade registration (round robin). Default 0. */
  ticksPerSecond: number;
  /** Trades carry their send time (epoch ms): KIS as one more field, Kiwoom as FID "stamp". Default false. */
  stamp: boolean;
  /** How long a broker restart refuses new connections. Default 1000. */
  restartMs: number;
  /**
   * The next this many notices are lost: the order is booked and filled in
   * the day orders, but no frame is sent (a broker's missing frame, or one
   * the hub could not read). Default 0.
   */
  loseNotices: number;
  /**
   * Notices leave this many ms after their order is booked or filled (a
   * broker's websocket lagging its own day orders). Default 0.
   */
  noticeDelayMs: number;
}

export const DEFAULT_STREAM_CONFIG: StreamSandboxConfig = {
  pingIntervalMs: 5_000,
  extraFields: 0,
  ticksPerSecond: 0,
  stamp: false,
  restartMs: 1_000,
  loseNotices: 0,
  noticeDelayMs: 0,
};

export interface StreamSandboxStats {
  sessions: number;
  logins: number;
  /** Sessions refused or kicked for a second session on one app key (OPSP8996, R10001). */
  conflicts: number;
  registrations: number;
  /** Registrations refused at the cap (OPSP0008). */
  capRefusals: number;
  framesSent: number;
  noticesSent: number;
  /** Notices lost by loseNotices. */
  noticesLost: number;
  drops: number;
  restarts: number;
}

export function emptyStreamStats(): StreamSandboxStats {
  return {
    sessions: 0,
    logins: 0,
    conflicts: 0,
    registrations: 0,
    capRefusals: 0,
    framesSent: 0,
    noticesSent: 0,
    noticesLost: 0,
    drops: 0,
    restarts: 0,
  };
}

/** What the brokers' stream handlers share. */
export interface StreamContext {
  config: StreamSandboxConfig;
  stats: StreamSandboxStats;
  /** The session holding an app key, by `${broker}|${environment}|${appKey}`. */
  owners: Map<string, SandboxSession>;
  send(session: SandboxSession, text: string): void;
}

export const ownerKey = (session: SandboxSession, appKey: string) =>
  `${session.broker}|${session.environment}|${appKey}`;

/** Send time for `stamp`: epoch ms with sub-millisecond digits. */
export function stampNow(): string {
  return (performance.timeOrigin + performance.now()).toFixed(3);
}

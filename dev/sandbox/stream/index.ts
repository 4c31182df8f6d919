import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import type { BrokerEnvironment } from "../../../core/brokers";
import type { Logger } from "../../../core/log";
import type { Answer } from "../answers";
import type { AppliedOrderEvent, SandboxOrderEvent, SandboxState } from "../state";
import {
  kisMessage,
  kisNoticeFrame,
  kisPing,
  kisSessionCipher,
  kisTradeFrame,
  kisTradeSymbols,
} from "./kis";
import {
  kiwoomMessage,
  kiwoomNoticeFrame,
  kiwoomPing,
  kiwoomTradeFrame,
  kiwoomTradeSymbols,
} from "./kiwoom";
import {
  DEFAULT_STREAM_CONFIG,
  emptyStreamStats,
  type SandboxSession,
  type StreamContext,
  type StreamSandboxConfig,
  type StreamSandboxStats,
} from "./session";

export type { StreamSandboxConfig, StreamSandboxStats } from "./session";

/** The websocket paths: KIS `/kis/{env}/websocket`, Kiwoom `/kiwoom/{env}/api/dostk/websocket`. */
const PATH = /^\/(kis|kiwoom)\/(real|paper)\/(websocket|api\/dostk\/websocket)$/;

export interface StreamSandbox {
  /** Takes an upgrade for one of the websocket paths; false when the path is not one. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** The /_sandbox/stream… control routes; undefined for any other route. */
  control(route: string, body: Record<string, unknown>): Answer | undefined;
  configure(change: Partial<StreamSandboxConfig>): StreamSandboxConfig;
  stats(): StreamSandboxStats;
  /** Silent drop: every session stops sending and reading, without a close frame. Returns how many. */
  drop(): number;
  /** Broker restart: every socket cut, new connections refused for restartMs. Returns how many were cut. */
  restart(): number;
  /**
   * An order event as the broker would have it: booked or filled in the
   * account's day orders, then its notice sent to the app key's session.
   * True when a frame was sent (false with no live, registered session: the
   * fill is in the day orders all the same).
   */
  notify(event: SandboxOrderEvent): boolean;
  close(): void;
}

export function createStreamSandbox(state: SandboxState, logger: Logger): StreamSandbox {
  const config: StreamSandboxConfig = { ...DEFAULT_STREAM_CONFIG };
  const stats = emptyStreamStats();
  const sessions = new Set<SandboxSession>();
  const server = new WebSocketServer({ noServer: true });
  let refuseUntil = 0;
  let tickCursor = 0;
  let tickPrice = 70_000;

  const context: StreamContext = {
    config,
    stats,
    owners: new Map(),
    send(session, text) {
      if (session.silent || session.socket.readyState !== session.socket.OPEN) return;
      session.socket.send(text);
      stats.framesSent += 1;
    },
  };

  const pinger = setInterval(() => ping(), config.pingIntervalMs);
  let lastPing = Date.now();
  function ping() {
    if (Date.now() - lastPing < config.pingIntervalMs - 5) return;
    lastPing = Date.now();
    for (const session of sessions) {
      if (session.appKey === undefined && session.broker === "KIWOOM") continue;
      context.send(session, session.broker === "KIS" ? kisPing() : kiwoomPing());
    }
  }
  // Re-armed when pingIntervalMs changes: a 5 s interval would outlive a test's 200 ms setting.
  let pingTimer = pinger;

  const TICK_MS = 10;
  let tickCarry = 0;
  let lastTick = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    const elapsed = now - lastTick;
    lastTick = now;
    if (config.ticksPerSecond <= 0) return;
    // By the time that passed, not the ticks counted: a late timer sends what was due.
    tickCarry += (config.ticksPerSecond * Math.min(elapsed, 1000)) / 1000;
    const due = Math.floor(tickCarry);
    tickCarry -= due;
    const targets: [SandboxSession, string][] = [];
    for (const session of sessions) {
      if (session.silent) continue;
      const symbols =
        session.broker === "KIS" ? kisTradeSymbols(session) : kiwoomTradeSymbols(session);
      for (const symbol of symbols) targets.push([session, symbol]);
    }
    if (targets.length === 0) return;
    for (let index = 0; index < due; index += 1) {
      const [session, symbol] = targets[tickCursor++ % targets.length] as [SandboxSession, string];
      tickPrice = tickPrice >= 80_000 ? 70_000 : tickPrice + 10;
      context.send(
        session,
        session.broker === "KIS"
          ? kisTradeFrame(symbol, tickPrice, context)
          : kiwoomTradeFrame(symbol, tickPrice, context),
      );
    }
  }, TICK_MS);

  function attach(
    socket: import("ws").WebSocket,
    broker: "KIS" | "KIWOOM",
    environment: BrokerEnvironment,
    clientIp: string,
  ) {
    const session: SandboxSession = {
      broker,
      environment,
      socket,
      clientIp,
      appKey: undefined,
      registrations: new Set(),
      cipher: kisSessionCipher(),
      silent: false,
    };
    sessions.add(session);
    stats.sessions += 1;
    socket.on("message", (data, isBinary) => {
      if (session.silent || isBinary) return;
      const text = data.toString();
      if (broker === "KIS") kisMessage(session, text, state, context);
      else kiwoomMessage(session, text, state, context);
    });
    socket.on("error", (error) => logger.debug({ err: error.message }, "sandbox websocket error"));
    socket.on("close", () => {
      sessions.delete(session);
      if (session.appKey !== undefined) {
        const key = `${broker}|${environment}|${session.appKey}`;
        if (context.owners.get(key) === session) context.owners.delete(key);
      }
    });
  }

  // The one place notices are sent: every order event, from REST orders or from notify, comes here once.
  const unsubscribe = state.onOrderEvent(deliver);

  /** Sends the notice of an applied order event to its app key's session; true when one was sent. */
  function deliver(event: AppliedOrderEvent): boolean {
    const session = context.owners.get(`${event.broker}|${event.environment}|${event.appKey}`);
    if (!session || session.silent) return false;
    const frame =
      session.broker === "KIS"
        ? kisNoticeFrame(session, event, context)
        : kiwoomNoticeFrame(session, event, context);
    if (!frame) return false;
    if (config.loseNotices > 0) {
      config.loseNotices -= 1;
      stats.noticesLost += 1;
      return false;
    }
    const send = () => {
      context.send(session, frame);
      stats.noticesSent += 1;
    };
    if (config.noticeDelayMs > 0) setTimeout(send, config.noticeDelayMs);
    else send();
    return true;
  }

  /** Through the state: the book applies the event, then `deliver` sends its notice. */
  const notify = (event: SandboxOrderEvent): boolean => state.emitOrderEvent(event);

  function drop(): number {
    let count = 0;
    for (const session of sessions) {
      if (!session.silent) count += 1;
      session.silent = true;
      // Gone for the broker: another session may take the app key.
      if (session.appKey !== undefined)
        context.owners.delete(`${session.broker}|${session.environment}|${session.appKey}`);
    }
    stats.drops += 1;
    return count;
  }

  function restart(): number {
    const count = sessions.size;
    for (const session of sessions) session.socket.terminate();
    sessions.clear();
    context.owners.clear();
    refuseUntil = Date.now() + config.restartMs;
    stats.restarts += 1;
    return count;
  }

  function configure(change: Partial<StreamSandboxConfig>): StreamSandboxConfig {
    for (const key of Object.keys(DEFAULT_STREAM_CONFIG) as (keyof StreamSandboxConfig)[]) {
      const value = change[key];
      if (value === undefined) continue;
      if (typeof value !== typeof DEFAULT_STREAM_CONFIG[key]) {
        throw new Error(`stream setting ${key} must be a ${typeof DEFAULT_STREAM_CONFIG[key]}`);
      }
      if (typeof value === "number" && (!Number.isFinite(value) || value < 0)) {
        throw new Error(`stream setting ${key} must be a number of at least 0`);
      }
      Object.assign(config, { [key]: value });
    }
    if (change.pingIntervalMs !== undefined) {
      clearInterval(pingTimer);
      pingTimer = setInterval(() => ping(), Math.max(10, config.pingIntervalMs));
    }
    return { ...config };
  }

  return {
    handleUpgrade(req, socket, head) {
      const match = PATH.exec(new URL(req.url ?? "/", "http://sandbox.invalid").pathname);
      if (!match) return false;
      const broker = match[1] === "kis" ? "KIS" : "KIWOOM";
      if ((broker === "KIS") !== (match[3] === "websocket")) return false;
      if (Date.now() < refuseUntil) {
        socket.end("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n");
        return true;
      }
      const clientIp = (req.socket.remoteAddress ?? "").replace(/^::ffff:/, "");
      server.handleUpgrade(req, socket, head, (ws) =>
        attach(ws, broker, match[2] as BrokerEnvironment, clientIp),
      );
      return true;
    },
    control(route, body) {
      switch (route) {
        case "GET /_sandbox/stream":
          return { status: 200, body: { config, stats } };
        case "POST /_sandbox/stream":
          return { status: 200, body: configure(body as Partial<StreamSandboxConfig>) };
        case "POST /_sandbox/stream/drop":
          return { status: 200, body: { dropped: drop() } };
        case "POST /_sandbox/stream/restart":
          return { status: 200, body: { cut: restart() } };
        case "POST /_sandbox/stream/fill":
          return { status: 200, body: { sent: notify(orderEvent(body)) } };
        default:
          return undefined;
      }
    },
    configure,
    stats: () => ({ ...stats }),
    drop,
    restart,
    notify,
    close() {
      unsubscribe();
      clearInterval(pingTimer);
      clearInterval(ticker);
      for (const session of sessions) session.socket.terminate();
      sessions.clear();
      server.close();
    },
  };
}

/** POST /_sandbox/stream/fill's body (snake_case) as an order event; throws naming a bad field. */
function orderEvent(body: Record<string, unknown>): SandboxOrderEvent {
  const text = (name: string) => {
    const value = body[name];
    if (typeof value !== "string" || value === "")
      throw new Error(`${name} must be a non-empty string`);
    return value;
  };
  const count = (name: string, fallback: number) => {
    const value = body[name] ?? fallback;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0)
      throw new Error(`${name} must be a whole number`);
    return value;
  };
  const broker = text("broker");
  if (broker !== "KIS" && broker !== "KIWOOM") throw new Error("broker must be KIS or KIWOOM");
  const environment = text("environment");
  if (environment !== "real" && environment !== "paper")
    throw new Error("environment must be real or paper");
  const status = body.status ?? "filled";
  if (status !== "filled" && status !== "booked")
    throw new Error("status must be filled or booked");
  const side = body.side ?? "buy";
  if (side !== "buy" && side !== "sell") throw new Error("side must be buy or sell");
  const orderQuantity = count("order_quantity", 1);
  return {
    broker,
    environment,
    appKey: text("app_key"),
    accountNumber: text("account_number"),
    orderNumber: text("order_number"),
    symbol: text("symbol"),
    side,
    status,
    orderQuantity,
    filledQuantity: count("filled_quantity", orderQuantity),
    price: count("price", 70_000),
  };
}

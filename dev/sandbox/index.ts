import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type Broker, type BrokerEnvironment, findBrokerAdapter } from "../../core/brokers";
import { type Clock, systemClock } from "../../core/clock";
import { type Logger, silentLogger } from "../../core/log";
import type { Answer, BrokerRequest, SandboxBroker } from "./answers";
import { isKisCode, kisError, kiwoomError } from "./codes";
import {
  applyConfigChange,
  DEFAULT_SANDBOX_CONFIG,
  type SandboxConfig,
  type SandboxFaultKind,
  seededRandom,
} from "./config";
import { kisSandbox } from "./kis";
import { kiwoomSandbox } from "./kiwoom";
import type { OrderFaultKind } from "./orders";
import { emptyStats, type RevokeFilter, SandboxState, type SandboxStats } from "./state";
import { createStreamSandbox, type StreamSandbox } from "./stream";

export type { Answer, BrokerContext, BrokerRequest, SandboxBroker } from "./answers";
export type { SandboxConfig, SandboxFaultKind } from "./config";
export { DEFAULT_SANDBOX_CONFIG, FAULT_KINDS, parseSandboxSettings } from "./config";
export { ORDER_FAULT_KINDS, type OrderFaultKind } from "./orders";
export type { RevokeFilter, SandboxOrderEvent, SandboxStats } from "./state";
export { KIS_ISSUE_INTERVAL_MS, KIS_REUSE_WINDOW_MS, TOKEN_LIFETIME_MS } from "./state";
export type { StreamSandbox, StreamSandboxConfig, StreamSandboxStats } from "./stream";

export interface BrokerSandboxOptions extends Partial<SandboxConfig> {
  /** Default 0: a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Judges expiry, the 6-hour reuse and the per-minute limit. Default: the system clock. */
  clock?: Clock;
  /** Seed of the random that draws injected faults. Default 1. */
  seed?: number;
  /** Request lines (method, path, status) at debug level; never bodies or headers. */
  logger?: Logger;
  /**
   * More brokers, by the path segment they are served under
   * (`/<segment>/{real,paper}`): the made-up brokers of tests. `env` names
   * their base URLs by their registered adapter's settings prefix.
   */
  brokers?: Readonly<Record<string, SandboxBrokerEntry>>;
}

/** A broker the sandbox serves: its id and its behaviour. */
export interface SandboxBrokerEntry {
  broker: Broker;
  handler: SandboxBroker;
}

export interface BrokerSandbox {
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  /** Drop-in base URLs for the adapters: `${url}/kis/real`, `${url}/kiwoom/paper`, … */
  baseUrls: Record<Broker, Record<BrokerEnvironment, string>>;
  /** The websockets: KIS `ws://…/kis/real/websocket`, Kiwoom `ws://…/kiwoom/real/api/dostk/websocket`. */
  wsUrls: Record<Broker, Record<BrokerEnvironment, string>>;
  /** The websockets' faults, ticks and notices. */
  streams: StreamSandbox;
  /** Same settings as env vars, for parseBrokerSettings({ ...sandbox.env }). */
  env: Record<string, string>;
  stats(): SandboxStats;
  resetStats(): void;
  /** Change faults and latency while running; returns the whole new config. */
  configure(change: Partial<SandboxConfig>): SandboxConfig;
  config(): SandboxConfig;
  /** Early revocation (as after broker maintenance) of every live token matching the filter; returns how many. */
  revokeAll(filter?: RevokeFilter): number;
  close(): Promise<void>;
}

const BROKER_PATHS: Readonly<Record<string, SandboxBrokerEntry>> = {
  kis: { broker: "KIS", handler: kisSandbox },
  kiwoom: { broker: "KIWOOM", handler: kiwoomSandbox },
};
const PREFIX = /^\/([a-z][a-z0-9-]*)\/(real|paper)(\/.*)$/;
const MAX_BODY_BYTES = 64 * 1024;

/**
 * Start one loopback HTTP server speaking both brokers' token APIs the way
 * BROKERS.md describes, under `/kis/{real,paper}` and `/kiwoom/{real,paper}`.
 */
export async function startBrokerSandbox(
  options: BrokerSandboxOptions = {},
): Promise<BrokerSandbox> {
  const {
    port = 0,
    host = "127.0.0.1",
    clock = systemClock,
    seed = 1,
    logger = silentLogger,
  } = options;
  let config = applyConfigChange(DEFAULT_SANDBOX_CONFIG, configFields(options));
  const paths: Readonly<Record<string, SandboxBrokerEntry>> = {
    ...BROKER_PATHS,
    ...options.brokers,
  };
  const state = new SandboxState(clock);
  const streams = createStreamSandbox(state, logger);
  const random = seededRandom(seed);
  const timers = new Set<NodeJS.Timeout>();
  const wakers = new Set<() => void>();
  let closing = false;
  let closed: Promise<void> | undefined;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        timers.delete(timer);
        wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      timers.add(timer);
      wakers.add(wake);
    });

  function drawFault(request: BrokerRequest, handler: SandboxBroker): SandboxFaultKind | undefined {
    if (!handler.isTokenEndpoint(request)) return undefined;
    const queued = config.failNext.shift();
    if (queued) return queued;
    if (config.errorRate > 0 && random() < config.errorRate) {
      return config.errorKinds[Math.floor(random() * config.errorKinds.length)];
    }
    return undefined;
  }

  /** A queued broker code for this broker, or KIS's check of registered IPs. */
  function codedAnswer(broker: Broker, request: BrokerRequest): Answer | undefined {
    const kis = broker === "KIS";
    const index = config.failNextCodes.findIndex((code) => isKisCode(code) === kis);
    const code =
      index >= 0
        ? config.failNextCodes.splice(index, 1)[0]
        : kis &&
            config.kisRegisteredIps.length > 0 &&
            !config.kisRegisteredIps.includes(request.clientIp)
          ? "EGW00207"
          : undefined;
    if (code === undefined) return undefined;
    state.recordRejection(code);
    return kis
      ? kisError(code, request.path.startsWith("/oauth2/"))
      : kiwoomError(code, { status: config.kiwoomErrorStatus });
  }

  /** The next `answerNext` entry queued for this broker and path, used once. */
  function recordedAnswer(broker: Broker, request: BrokerRequest): Answer | undefined {
    const index = config.answerNext.findIndex(
      (answer) => answer.broker === broker && answer.path === request.path,
    );
    if (index < 0) return undefined;
    const [answer] = config.answerNext.splice(index, 1);
    const body = Object.fromEntries(
      Object.entries(request.body).map(([field, value]) => [
        field,
        field === "grant_type" ? String(value) : "***",
      ]),
    );
    state.stats.recorded.push({ broker, path: request.path, body });
    return answer && { status: answer.status, body: answer.body };
  }

  function faultAnswer(
    kind: SandboxFaultKind,
    request: BrokerRequest,
    handler: SandboxBroker,
  ): Answer | "hang" {
    state.stats.faults[kind] += 1;
    if (kind === "timeout") return "hang";
    if (kind === "rate_limit") return handler.rateLimitAnswer(request, random);
    return random() < 0.5
      ? { status: 500, body: "Internal Server Error" }
      : { status: 503, body: "<html><body>503 Service Temporarily Unavailable</body></html>" };
  }

  /** The order fault switch for this order, if one fires: the queued ones first, then the rates. */
  function drawOrderFault(broker: Broker, path: string): OrderFaultKind | undefined {
    const key = `${broker} ${path}`;
    const queued = config.orderFaults[key]?.shift();
    if (queued) return queued;
    const rates = config.orderFaultRates[key];
    if (!rates) return undefined;
    let draw = random();
    for (const [kind, rate] of Object.entries(rates) as [OrderFaultKind, number][]) {
      if (draw < rate) return kind;
      draw -= rate;
    }
    return undefined;
  }

  /**
   * An order is judged and booked whether or not its client is still there
   * (no broker drops an order because the caller went away); an order fault
   * then decides what the client gets.
   */
  function orderAnswer(
    request: BrokerRequest,
    target: { broker: Broker; handler: SandboxBroker },
    environment: BrokerEnvironment,
  ): Answer | "hang" | "reset" {
    const fault = drawOrderFault(target.broker, request.path);
    if (fault) state.stats.orderFaults[fault] = (state.stats.orderFaults[fault] ?? 0) + 1;
    if (fault === "reject_before_book") return target.handler.orderRefusal(request);
    const before = state.stats.orders.booked;
    const answer = target.handler.handle(request, { state, config, environment, random }) ?? {
      status: 404,
      body: { error: "not found" },
    };
    if (!fault || state.stats.orders.booked === before) return answer;
    if (fault === "accept_then_hang") return "hang";
    if (fault === "accept_then_reset") return "reset";
    return { status: 500, body: "Internal Server Error" };
  }

  async function brokerAnswer(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
  ): Promise<Answer | "hang" | "reset"> {
    const match = PREFIX.exec(url.pathname);
    const segment = match?.[1] ?? "";
    const target = Object.hasOwn(paths, segment) ? paths[segment] : undefined;
    if (!match || !target) return { status: 404, body: { error: "not found" } };
    state.stats.requests += 1;
    const arrivedAt = performance.now();
    const request: BrokerRequest = {
      method: req.method ?? "GET",
      path: match[3] as string,
      query: url.searchParams,
      headers: req.headers,
      body: await readJsonObject(req),
      clientIp: (req.socket.remoteAddress ?? "").replace(/^::ffff:/, ""),
      arrivedAt,
    };
    if (config.latencyMs > 0) await sleep(config.latencyMs);
    if (closing) return "hang";
    const isOrder = request.method === "POST" && target.handler.orderPaths.has(request.path);
    if (isOrder) {
      return (
        codedAnswer(target.broker, request) ??
        recordedAnswer(target.broker, request) ??
        orderAnswer(request, target, match[2] as BrokerEnvironment)
      );
    }
    if (res.destroyed) return "hang";
    const fault = drawFault(request, target.handler);
    if (fault) return faultAnswer(fault, request, target.handler);
    const coded = codedAnswer(target.broker, request);
    if (coded) return coded;
    const recorded = recordedAnswer(target.broker, request);
    if (recorded) return recorded;
    const answer = target.handler.handle(request, {
      state,
      config,
      environment: match[2] as BrokerEnvironment,
      random,
    });
    return answer ?? { status: 404, body: { error: "not found" } };
  }

  async function sandboxAnswer(req: IncomingMessage, url: URL): Promise<Answer | undefined> {
    const route = `${req.method} ${url.pathname}`;
    try {
      switch (route) {
        case "GET /_sandbox/stats":
          return { status: 200, body: state.stats };
        case "GET /_sandbox/config":
          return { status: 200, body: config };
        case "POST /_sandbox/config":
          config = applyConfigChange(config, await readJsonObject(req));
          return { status: 200, body: config };
        case "POST /_sandbox/revoke-all":
          return { status: 200, body: { revoked: state.revokeAll(await readJsonObject(req)) } };
        case "POST /_sandbox/reset-stats":
          state.stats = emptyStats();
          return { status: 200, body: state.stats };
        default:
          if (url.pathname.startsWith("/_sandbox/stream")) {
            const body = req.method === "POST" ? await readJsonObject(req) : {};
            const answer = streams.control(route, body);
            if (answer) return answer;
          }
          return url.pathname.startsWith("/_sandbox/")
            ? { status: 404, body: { error: "not found" } }
            : undefined;
      }
    } catch (error) {
      return {
        status: 400,
        body: { error: error instanceof Error ? error.message : "bad request" },
      };
    }
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://sandbox.invalid");
    res.on("error", () => {});
    void (async () => {
      const answer = (await sandboxAnswer(req, url)) ?? (await brokerAnswer(req, res, url));
      if (answer === "hang") {
        hang(res);
        return;
      }
      if (answer === "reset") {
        res.socket?.destroy();
        return;
      }
      logger.debug(
        { method: req.method, path: url.pathname, status: answer.status },
        "sandbox answer",
      );
      write(res, answer);
    })().catch((error: unknown) => {
      logger.error(
        { err: error instanceof Error ? error.message : String(error) },
        "sandbox failure",
      );
      write(res, { status: 500, body: "sandbox failure" });
    });
  });

  /** Hold the request unanswered until the client gives up, hangMs passes, or the sandbox closes. */
  function hang(res: ServerResponse) {
    if (closing) {
      res.socket?.destroy();
      return;
    }
    const timer = setTimeout(() => {
      timers.delete(timer);
      res.socket?.destroy();
    }, config.hangMs);
    timers.add(timer);
    res.socket?.once("close", () => {
      clearTimeout(timer);
      timers.delete(timer);
    });
  }

  server.on("upgrade", (req, socket, head) => {
    if (closing || !streams.handleUpgrade(req, socket, head)) {
      socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n");
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const base = `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`;
  const baseUrls = {
    KIS: { real: `${base}/kis/real`, paper: `${base}/kis/paper` },
    KIWOOM: { real: `${base}/kiwoom/real`, paper: `${base}/kiwoom/paper` },
  } as Record<Broker, Record<BrokerEnvironment, string>>;
  const extraEnv: Record<string, string> = {};
  for (const [segment, { broker }] of Object.entries(options.brokers ?? {})) {
    baseUrls[broker] = { real: `${base}/${segment}/real`, paper: `${base}/${segment}/paper` };
    const prefix = findBrokerAdapter(broker)?.settingsPrefix;
    if (!prefix) continue;
    extraEnv[`${prefix}_REAL_URL`] = baseUrls[broker].real;
    extraEnv[`${prefix}_PAPER_URL`] = baseUrls[broker].paper;
  }

  const wsBase = base.replace(/^http/, "ws");
  return {
    url: base,
    baseUrls,
    wsUrls: {
      KIS: { real: `${wsBase}/kis/real/websocket`, paper: `${wsBase}/kis/paper/websocket` },
      KIWOOM: {
        real: `${wsBase}/kiwoom/real/api/dostk/websocket`,
        paper: `${wsBase}/kiwoom/paper/api/dostk/websocket`,
      },
    },
    streams,
    env: {
      KIS_REAL_URL: baseUrls.KIS.real,
      KIS_PAPER_URL: baseUrls.KIS.paper,
      KIWOOM_REAL_URL: baseUrls.KIWOOM.real,
      KIWOOM_PAPER_URL: baseUrls.KIWOOM.paper,
      KIS_REAL_WS_URL: `${wsBase}/kis/real/websocket`,
      KIS_PAPER_WS_URL: `${wsBase}/kis/paper/websocket`,
      KIWOOM_REAL_WS_URL: `${wsBase}/kiwoom/real/api/dostk/websocket`,
      KIWOOM_PAPER_WS_URL: `${wsBase}/kiwoom/paper/api/dostk/websocket`,
      ...extraEnv,
    },
    stats: () => structuredClone(state.stats),
    resetStats: () => {
      state.stats = emptyStats();
    },
    configure(change) {
      config = applyConfigChange(config, change);
      return structuredClone(config);
    },
    config: () => structuredClone(config),
    revokeAll: (filter) => state.revokeAll(filter),
    close: () => {
      // Idempotent: a test may stop it early and an afterAll hook again.
      closed ??= new Promise<void>((resolve, reject) => {
        closing = true;
        streams.close();
        for (const wake of [...wakers]) wake();
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

function configFields(options: BrokerSandboxOptions): Partial<SandboxConfig> {
  const fields: Partial<SandboxConfig> = {};
  for (const key of Object.keys(DEFAULT_SANDBOX_CONFIG) as (keyof SandboxConfig)[]) {
    if (options[key] !== undefined) Object.assign(fields, { [key]: options[key] });
  }
  return fields;
}

async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) break;
    chunks.push(chunk as Buffer);
  }
  if (size === 0 || size > MAX_BODY_BYTES) return {};
  try {
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

function write(res: ServerResponse, answer: Answer) {
  if (res.destroyed || res.headersSent) return;
  const text = typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body);
  res.writeHead(answer.status, {
    "content-type":
      typeof answer.body === "string"
        ? "text/plain; charset=utf-8"
        : "application/json; charset=utf-8",
    ...answer.headers,
  });
  res.end(text);
}

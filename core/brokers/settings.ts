import { wholeNumber } from "../config";
import { BROKER_ADAPTERS } from "./registry";
import type { Broker, BrokerEnvironment } from "./types";

/** Per-broker settings. */
export interface BrokerEndpointSettings {
  /** No trailing slash. */
  baseUrls: Record<BrokerEnvironment, string>;
  minIssueIntervalMs: number;
  /** The gateway's calls per second per app key (the broker's own limit). */
  callsPerSecond: Record<BrokerEnvironment, number>;
  /** Orders' own lane per app key (adapter orderCallsPerSecond; part of callsPerSecond where the broker shares one limit). */
  orderCallsPerSecond: Record<BrokerEnvironment, number>;
}

export interface BrokerSettings {
  brokers: Record<Broker, BrokerEndpointSettings>;
  /** Applied to every broker call (AbortSignal.timeout). */
  timeoutMs: number;
  /** Longest a gateway call waits for its slot before a 429 with Retry-After. */
  callMaxWaitMs: number;
  /**
   * Allowance for network jitter: N calls are spread over 1000 ms plus this,
   * so calls that arrive up to this much closer together than they left
   * still never put N+1 into any broker second.
   */
  callJitterMs: number;
}

export const DEFAULT_BROKER_TIMEOUT_MS = 10_000;

/**
 * Read broker settings from an environment-like object:
 * KIS_REAL_URL, KIS_PAPER_URL, KIWOOM_REAL_URL, KIWOOM_PAPER_URL (default: the
 * brokers' real hosts), BROKER_TIMEOUT_MS (default 10000),
 * KIS_MIN_ISSUE_INTERVAL_MS (default and floor 60000),
 * KIWOOM_MIN_ISSUE_INTERVAL_MS (default 60000, floor 1000); the gateway's
 * KIS_REAL_CALLS_PER_SECOND (20), KIS_PAPER_CALLS_PER_SECOND (2),
 * KIWOOM_REAL_CALLS_PER_SECOND (5), KIWOOM_PAPER_CALLS_PER_SECOND (1), and the
 * orders' lane KIS_REAL_ORDER_CALLS_PER_SECOND (4 of KIS's 20), KIS_PAPER_… (1 of 2),
 * KIWOOM_REAL_ORDER_CALLS_PER_SECOND (5, its own budget), KIWOOM_PAPER_… (1),
 * BROKER_CALL_MAX_WAIT_MS (5000) and BROKER_CALL_JITTER_MS (50).
 * Throws one sentence naming the first bad setting.
 */
export function parseBrokerSettings(env: Record<string, string | undefined>): BrokerSettings {
  const brokers = {} as Record<Broker, BrokerEndpointSettings>;
  for (const adapter of Object.values(BROKER_ADAPTERS)) {
    const prefix = adapter.settingsPrefix;
    brokers[adapter.broker] = {
      baseUrls: {
        real: parseUrl(env, `${prefix}_REAL_URL`, adapter.defaultBaseUrls.real),
        paper: parseUrl(env, `${prefix}_PAPER_URL`, adapter.defaultBaseUrls.paper),
      },
      minIssueIntervalMs: parseInteger(
        env,
        `${prefix}_MIN_ISSUE_INTERVAL_MS`,
        adapter.minIssueInterval.defaultMs,
        adapter.minIssueInterval.floorMs,
      ),
      callsPerSecond: {
        real: parseInteger(
          env,
          `${prefix}_REAL_CALLS_PER_SECOND`,
          adapter.callsPerSecond.real,
          1,
          "",
        ),
        paper: parseInteger(
          env,
          `${prefix}_PAPER_CALLS_PER_SECOND`,
          adapter.callsPerSecond.paper,
          1,
          "",
        ),
      },
      orderCallsPerSecond: {
        real: parseInteger(
          env,
          `${prefix}_REAL_ORDER_CALLS_PER_SECOND`,
          adapter.orderCallsPerSecond.real,
          1,
          "",
        ),
        paper: parseInteger(
          env,
          `${prefix}_PAPER_ORDER_CALLS_PER_SECOND`,
          adapter.orderCallsPerSecond.paper,
          1,
          "",
        ),
      },
    };
  }
  return {
    brokers,
    timeoutMs: parseInteger(env, "BROKER_TIMEOUT_MS", DEFAULT_BROKER_TIMEOUT_MS, 1),
    callMaxWaitMs: parseInteger(env, "BROKER_CALL_MAX_WAIT_MS", 5_000, 0),
    callJitterMs: parseInteger(env, "BROKER_CALL_JITTER_MS", 50, 0),
  };
}

function parseUrl(env: Record<string, string | undefined>, name: string, fallback: string): string {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`${name} must be an absolute http(s) URL.`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`${name} must be an absolute http(s) URL.`);
  }
  // Tokens and app secrets travel in these requests: plain HTTP only to this
  // machine (the broker sandbox), never across a network.
  if (url.protocol === "http:" && !isLoopback(url.hostname)) {
    throw new Error(
      `${name} must be an https: URL (plain http: is allowed only on loopback, for the sandbox).`,
    );
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new Error(`${name} must not carry credentials, a query or a fragment.`);
  }
  return url.toString().replace(/\/+$/, "");
}

function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127(\.\d{1,3}){3}$/.test(hostname);
}

function parseInteger(
  env: Record<string, string | undefined>,
  name: string,
  fallback: number,
  min: number,
  unit = " of milliseconds",
): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = wholeNumber(raw, min);
  if (value === undefined)
    throw new Error(`${name} must be a whole number${unit}, at least ${min}.`);
  return value;
}

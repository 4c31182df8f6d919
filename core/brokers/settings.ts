import { BROKER_ADAPTERS } from "./registry";
import type { Broker, BrokerEnvironment } from "./types";

/** Per-broker settings. */
export interface BrokerEndpointSettings {
  /** No trailing slash. */
  baseUrls: Record<BrokerEnvironment, string>;
  minIssueIntervalMs: number;
}

export interface BrokerSettings {
  brokers: Record<Broker, BrokerEndpointSettings>;
  /** Applied to every broker call (AbortSignal.timeout). */
  timeoutMs: number;
}

export const DEFAULT_BROKER_TIMEOUT_MS = 10_000;

/**
 * Read broker settings from an environment-like object:
 * KIS_REAL_URL, KIS_PAPER_URL, KIWOOM_REAL_URL, KIWOOM_PAPER_URL (default: the
 * brokers' real hosts), BROKER_TIMEOUT_MS (default 10000),
 * KIS_MIN_ISSUE_INTERVAL_MS (default and floor 60000),
 * KIWOOM_MIN_ISSUE_INTERVAL_MS (default 60000, floor 1000).
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
    };
  }
  return {
    brokers,
    timeoutMs: parseInteger(env, "BROKER_TIMEOUT_MS", DEFAULT_BROKER_TIMEOUT_MS, 1),
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
): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || !Number.isSafeInteger(Number(raw))) {
    throw new Error(`${name} must be a whole number of milliseconds, at least ${min}.`);
  }
  return Number(raw);
}

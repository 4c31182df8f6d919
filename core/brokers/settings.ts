import {
  type NumberSettingSpec,
  readNumber,
  readNumberSetting,
  SETTINGS,
  type SettingSpec,
} from "../config";
import { BROKER_ADAPTERS } from "./adapters";
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

export const DEFAULT_BROKER_TIMEOUT_MS = SETTINGS.BROKER_TIMEOUT_MS.default;

/**
 * The settings each broker adapter brings, declared in core/config's shape
 * from the adapter's own figures: `<PREFIX>_REAL_URL`, `<PREFIX>_PAPER_URL`,
 * `<PREFIX>_MIN_ISSUE_INTERVAL_MS` (default and floor from the adapter) and
 * the gateway's `<PREFIX>_REAL_CALLS_PER_SECOND`, `<PREFIX>_PAPER_CALLS_PER_SECOND`
 * and its order lane `<PREFIX>_REAL_ORDER_CALLS_PER_SECOND`, `<PREFIX>_PAPER_ORDER_CALLS_PER_SECOND`.
 */
export function brokerSettingSpecs(): Record<string, SettingSpec> {
  const specs: Record<string, SettingSpec> = {};
  for (const adapter of Object.values(BROKER_ADAPTERS)) {
    const prefix = adapter.settingsPrefix;
    const name = adapter.broker;
    for (const environment of ["real", "paper"] as const) {
      specs[`${prefix}_${environment.toUpperCase()}_URL`] = {
        kind: "text",
        readBy: ["service", "start", "deploy"],
        defaultText: `\`${adapter.defaultBaseUrls[environment]}\` (the sandbox under \`npm start\`)`,
        rule: "an https: URL (http: on loopback only)",
        text: `${name}'s ${environment} base URL`,
      };
    }
    specs[`${prefix}_MIN_ISSUE_INTERVAL_MS`] = {
      kind: "number",
      whole: true,
      default: adapter.minIssueInterval.defaultMs,
      min: adapter.minIssueInterval.floorMs,
      max: Number.MAX_SAFE_INTEGER,
      unit: "milliseconds",
      readBy: ["service"],
      text: `${name}'s issuance pace per app key`,
    };
    for (const environment of ["real", "paper"] as const) {
      specs[`${prefix}_${environment.toUpperCase()}_CALLS_PER_SECOND`] = {
        kind: "number",
        whole: true,
        default: adapter.callsPerSecond[environment],
        min: 1,
        max: Number.MAX_SAFE_INTEGER,
        unit: "",
        readBy: ["service", "deploy"],
        text: `the gateway's calls per second per app key to ${name} ${environment}`,
      };
      specs[`${prefix}_${environment.toUpperCase()}_ORDER_CALLS_PER_SECOND`] = {
        kind: "number",
        whole: true,
        default: adapter.orderCallsPerSecond[environment],
        min: 1,
        max: Number.MAX_SAFE_INTEGER,
        unit: "",
        readBy: ["service"],
        text: adapter.orderCallsPerSecond.shared
          ? `the gateway's order lane per app key to ${name} ${environment}, kept out of its calls per second (queries get the rest)`
          : `the gateway's order lane per app key to ${name} ${environment}, a budget of its own beside the queries'`,
      };
    }
  }
  return specs;
}

/**
 * Read broker settings from an environment-like object: the per-broker
 * settings of brokerSettingSpecs() and BROKER_TIMEOUT_MS,
 * BROKER_CALL_MAX_WAIT_MS and BROKER_CALL_JITTER_MS (core/config/settings.ts).
 * Throws one sentence naming the first bad setting.
 */
export function parseBrokerSettings(env: Record<string, string | undefined>): BrokerSettings {
  const specs = brokerSettingSpecs();
  const number = (name: string) => readNumber(env, name, specs[name] as NumberSettingSpec);
  const brokers = {} as Record<Broker, BrokerEndpointSettings>;
  for (const adapter of Object.values(BROKER_ADAPTERS)) {
    const prefix = adapter.settingsPrefix;
    brokers[adapter.broker] = {
      baseUrls: {
        real: parseUrl(env, `${prefix}_REAL_URL`, adapter.defaultBaseUrls.real),
        paper: parseUrl(env, `${prefix}_PAPER_URL`, adapter.defaultBaseUrls.paper),
      },
      minIssueIntervalMs: number(`${prefix}_MIN_ISSUE_INTERVAL_MS`),
      callsPerSecond: {
        real: number(`${prefix}_REAL_CALLS_PER_SECOND`),
        paper: number(`${prefix}_PAPER_CALLS_PER_SECOND`),
      },
      orderCallsPerSecond: {
        real: number(`${prefix}_REAL_ORDER_CALLS_PER_SECOND`),
        paper: number(`${prefix}_PAPER_ORDER_CALLS_PER_SECOND`),
      },
    };
  }
  return {
    brokers,
    timeoutMs: readNumberSetting(env, "BROKER_TIMEOUT_MS"),
    callMaxWaitMs: readNumberSetting(env, "BROKER_CALL_MAX_WAIT_MS"),
    callJitterMs: readNumberSetting(env, "BROKER_CALL_JITTER_MS"),
  };
}

function parseUrl(env: Record<string, string | undefined>, name: string, fallback: string): string {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const url = absoluteUrl(raw);
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
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

/** The parsed URL, or undefined; its type inferred (infra/ compiles this under other URL typings). */
function absoluteUrl(raw: string) {
  try {
    return new URL(raw);
  } catch {
    return undefined;
  }
}

function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127(\.\d{1,3}){3}$/.test(hostname);
}

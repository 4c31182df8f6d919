import type { Broker, BrokerEnvironment } from "../brokers";
import { ValidationError } from "../errors";

/** How the broker gateway paces and waits; every value has a default. */
export interface GatewaySettings {
  /** Calls per second each app key may make, per broker and environment. */
  callsPerSecond: Record<Broker, Record<BrokerEnvironment, number>>;
  /** Longest a call waits for its slot before a 429 with Retry-After. */
  maxWaitMs: number;
  /**
   * Allowance for network jitter: N calls are spread over 1000 ms plus this,
   * so calls that arrive up to this much closer together than they left
   * still never put N+1 into any broker second.
   */
  jitterMs: number;
}

/** Clients' figures (BROKERS.md): KIS 20/s real, 2/s paper; Kiwoom 5/s real, 1/s mock. */
export const DEFAULT_GATEWAY_SETTINGS: GatewaySettings = {
  callsPerSecond: { KIS: { real: 20, paper: 2 }, KIWOOM: { real: 5, paper: 1 } },
  maxWaitMs: 5_000,
  jitterMs: 50,
};

const RATES: { name: string; broker: Broker; environment: BrokerEnvironment }[] = [
  { name: "KIS_REAL_CALLS_PER_SECOND", broker: "KIS", environment: "real" },
  { name: "KIS_PAPER_CALLS_PER_SECOND", broker: "KIS", environment: "paper" },
  { name: "KIWOOM_REAL_CALLS_PER_SECOND", broker: "KIWOOM", environment: "real" },
  { name: "KIWOOM_PAPER_CALLS_PER_SECOND", broker: "KIWOOM", environment: "paper" },
];

/**
 * Reads KIS_REAL_CALLS_PER_SECOND, KIS_PAPER_CALLS_PER_SECOND,
 * KIWOOM_REAL_CALLS_PER_SECOND, KIWOOM_PAPER_CALLS_PER_SECOND (1-1000),
 * BROKER_CALL_MAX_WAIT_MS (0-30000) and BROKER_CALL_JITTER_MS (0-1000);
 * one issue per bad setting.
 */
export function parseGatewaySettings(env: Record<string, string | undefined>): GatewaySettings {
  const settings = structuredClone(DEFAULT_GATEWAY_SETTINGS);
  const issues: { field: string; message: string }[] = [];
  const read = (name: string, min: number, max: number, apply: (value: number) => void) => {
    const raw = env[name]?.trim();
    if (!raw) return;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      issues.push({
        field: name,
        message: `must be a whole number from ${min} to ${max}, got "${raw}"`,
      });
    } else {
      apply(value);
    }
  };
  for (const rate of RATES) {
    read(rate.name, 1, 1000, (value) => {
      settings.callsPerSecond[rate.broker][rate.environment] = value;
    });
  }
  read("BROKER_CALL_MAX_WAIT_MS", 0, 30_000, (value) => {
    settings.maxWaitMs = value;
  });
  read("BROKER_CALL_JITTER_MS", 0, 1_000, (value) => {
    settings.jitterMs = value;
  });
  if (issues.length) throw new ValidationError(issues);
  return settings;
}

/** Milliseconds between two calls of one app key: N calls per (1000 ms + jitter allowance). */
export function callSpacingMs(
  settings: GatewaySettings,
  broker: Broker,
  environment: BrokerEnvironment,
): number {
  return (1000 + settings.jitterMs) / settings.callsPerSecond[broker][environment];
}

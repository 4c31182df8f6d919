import { afterAll, beforeAll } from "vitest";
import {
  type BrokerRegistry,
  type BrokerRegistryDependencies,
  type BrokerSettings,
  createBrokerRegistry,
  parseBrokerSettings,
} from "../../core/brokers";
import type { Clock } from "../../core/clock";
import {
  type BrokerSandbox,
  type BrokerSandboxOptions,
  DEFAULT_SANDBOX_CONFIG,
  startBrokerSandbox,
} from "../../dev/sandbox";

/** A clock that moves only when told to. */
export interface ManualClock extends Clock {
  set(instant: Date): void;
  advance(ms: number): void;
}

/** Starts at `start`, by default now rounded down to a whole second (brokers state expiry in whole seconds). */
export function manualClock(
  start: Date = new Date(Math.floor(Date.now() / 1000) * 1000),
): ManualClock {
  let current = start.getTime();
  return {
    now: () => new Date(current),
    set: (instant) => {
      current = instant.getTime();
    },
    advance: (ms) => {
      current += ms;
    },
  };
}

export interface TestBrokerSandboxOptions extends BrokerSandboxOptions {
  /** Client timeout for the settings (BROKER_TIMEOUT_MS). Default 2000. */
  timeoutMs?: number;
  /** Further settings, e.g. { KIWOOM_MIN_ISSUE_INTERVAL_MS: "1000" }. */
  env?: Record<string, string>;
}

export interface TestBrokerSandbox {
  sandbox: BrokerSandbox;
  /** The sandbox's clock; a ManualClock unless `clock` was given. */
  clock: Clock;
  /** Settings env (KIS_REAL_URL … BROKER_TIMEOUT_MS) pointing at the sandbox. */
  env: Record<string, string>;
  settings: BrokerSettings;
  /** A registry on the sandbox sharing its clock unless told otherwise. */
  registry(dependencies?: BrokerRegistryDependencies): BrokerRegistry;
  stop(): Promise<void>;
}

/** Start a broker sandbox on a free loopback port, with adapter settings pointing at it. */
export async function startTestBrokerSandbox(
  options: TestBrokerSandboxOptions = {},
): Promise<TestBrokerSandbox> {
  const { timeoutMs = 2_000, env: extraEnv = {}, ...sandboxOptions } = options;
  const clock = sandboxOptions.clock ?? manualClock();
  const sandbox = await startBrokerSandbox({
    ...sandboxOptions,
    clock,
    port: sandboxOptions.port ?? 0,
  });
  const env = { ...sandbox.env, BROKER_TIMEOUT_MS: String(timeoutMs), ...extraEnv };
  const settings = parseBrokerSettings(env);
  return {
    sandbox,
    clock,
    env,
    settings,
    registry: (dependencies = {}) => createBrokerRegistry(settings, { clock, ...dependencies }),
    stop: () => sandbox.close(),
  };
}

/**
 * Start a sandbox before the file's tests and stop it after them. Call the
 * returned function inside a test to get it.
 */
export function useBrokerSandbox(options: TestBrokerSandboxOptions = {}): () => TestBrokerSandbox {
  let started: TestBrokerSandbox | undefined;
  beforeAll(async () => {
    started = await startTestBrokerSandbox(options);
  });
  afterAll(async () => {
    await started?.stop();
  });
  return () => {
    if (!started)
      throw new Error("The broker sandbox is not started yet: call this inside a test.");
    return started;
  };
}

/**
 * Back to the default config (no queued or random faults, no latency) with
 * zeroed stats, so a test neither inherits another's faults nor counts its
 * requests. Issued tokens and the brokers' pace stay.
 */
export function resetSandbox(sandbox: BrokerSandbox): void {
  sandbox.configure(structuredClone(DEFAULT_SANDBOX_CONFIG));
  sandbox.resetStats();
}

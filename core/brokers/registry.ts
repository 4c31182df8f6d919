import { type Clock, systemClock } from "../clock";
import { BROKER_ADAPTERS } from "./adapters";
import type { BrokerError } from "./errors";
import type { BrokerResponse } from "./http";
import type { BrokerSettings } from "./settings";
import { type JsonPost, postJsonOverHttp } from "./transport";
import type { Broker, BrokerClient, BrokerEnvironment } from "./types";

export { BROKER_ADAPTERS };

/** The configured client of each broker. */
export interface BrokerRegistry {
  get(broker: Broker): BrokerClient;
  /**
   * Classify an answer from any endpoint of `broker` (e.g. a trading call),
   * so callers can spot a token rejection with isTokenRejection().
   */
  interpretError(
    broker: Broker,
    response: BrokerResponse,
    secrets?: readonly string[],
    environment?: BrokerEnvironment,
  ): BrokerError | undefined;
}

export interface BrokerRegistryDependencies {
  /** How a JSON POST reaches the broker; node:http(s) with keep-alive by default. */
  post?: JsonPost;
  /** Stamps `issuedAt`; defaults to the system clock. */
  clock?: Clock;
}

/** Build one client per broker from parsed settings. */
export function createBrokerRegistry(
  settings: BrokerSettings,
  dependencies: BrokerRegistryDependencies = {},
): BrokerRegistry {
  const post = dependencies.post ?? postJsonOverHttp;
  const clock = dependencies.clock ?? systemClock;
  const clients = new Map<Broker, BrokerClient>();
  for (const adapter of Object.values(BROKER_ADAPTERS)) {
    const own = settings.brokers[adapter.broker];
    clients.set(
      adapter.broker,
      adapter.createClient({
        post,
        timeoutMs: settings.timeoutMs,
        clock,
        baseUrls: own.baseUrls,
        minIssueIntervalMs: own.minIssueIntervalMs,
      }),
    );
  }
  return {
    get(broker) {
      const client = clients.get(broker);
      if (!client) throw new Error(`Unknown broker ${JSON.stringify(broker)}.`);
      return client;
    },
    interpretError(broker, response, secrets = [], environment) {
      return BROKER_ADAPTERS[broker].interpretError(response, { secrets, clock, environment });
    },
  };
}

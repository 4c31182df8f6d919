import type { BrokerAdapter } from "./adapter";
import { hostOf } from "./errors";
import { kisAdapter } from "./kis";
import { kiwoomAdapter } from "./kiwoom";
import type { Broker, BrokerEnvironment } from "./types";

/**
 * One entry per broker: adding a broker is its adapter file plus a line here
 * (and its literal in `Broker`). A leaf apart from the registry, so that
 * infra/ can read the adapters' settings without compiling the HTTP transport
 * under SST's platform types (they bring Bun's URL and Headers globals).
 */
export const BROKER_ADAPTERS: Readonly<Record<Broker, BrokerAdapter>> = {
  KIS: kisAdapter,
  KIWOOM: kiwoomAdapter,
};

/** The adapter of the broker a name (an account's `exchange`) stands for; undefined when none does. */
export function findBrokerAdapter(name: string): BrokerAdapter | undefined {
  return Object.hasOwn(BROKER_ADAPTERS, name) ? BROKER_ADAPTERS[name as Broker] : undefined;
}

/** The broker's name as people write it (its adapter's `displayName`). */
export function brokerName(broker: Broker): string {
  return findBrokerAdapter(broker)?.displayName ?? broker;
}

/** "Kiwoom's mock/paper host", for messages naming an environment. */
export function hostName(broker: Broker, environment: BrokerEnvironment): string {
  return hostOf(brokerName(broker), environment);
}

import type { BrokerAdapter } from "./adapter";
import { hostOf } from "./errors";
import { kisAdapter } from "./kis";
import { kiwoomAdapter } from "./kiwoom";
import type { Broker, BrokerEnvironment } from "./types";

/**
 * One entry per broker: adding a broker is its adapter file plus a line in
 * the list below (and its literal in `Broker`). Everything else reads this
 * registry when it is called (settings, the broker clients, accounts, the
 * gateway, the hub, infra's alarms), so a broker registered before the
 * service is built is served like the built-in two; only the OpenAPI
 * document's header lines are read once, at import. A leaf apart from the
 * registry, so that infra/ can read the adapters' settings without compiling
 * the HTTP transport under SST's platform types (they bring Bun's URL and
 * Headers globals).
 */
export const BROKER_ADAPTERS: Readonly<Record<Broker, BrokerAdapter>> = {} as Record<
  Broker,
  BrokerAdapter
>;

/**
 * The broker answer headers the gateway hands back to its caller:
 * content-type, then each registered adapter's `calls.returnedHeaders`
 * (transaction id, paging), once each. Kept current as adapters register.
 */
export const RETURNED_ANSWER_HEADERS: readonly string[] = ["content-type"];

/**
 * Adds a broker to the registry. Throws when its id, settings prefix or
 * alarm name is taken, or the alarm name is not letters only (it becomes
 * part of a CloudWatch alarm name). The built-in brokers are registered
 * here at import; tests register made-up ones the same way.
 */
export function registerBrokerAdapter(adapter: BrokerAdapter): void {
  const taken = Object.values(BROKER_ADAPTERS).find(
    (other) =>
      other.broker === adapter.broker ||
      other.settingsPrefix === adapter.settingsPrefix ||
      other.alarmName === adapter.alarmName,
  );
  if (taken) {
    throw new Error(
      `Broker ${JSON.stringify(adapter.broker)} clashes with ${JSON.stringify(taken.broker)}: a broker's id, settings prefix and alarm name are its own.`,
    );
  }
  if (!/^[A-Za-z]+$/.test(adapter.alarmName)) {
    throw new Error(`Broker ${JSON.stringify(adapter.broker)}: alarmName must be letters only.`);
  }
  (BROKER_ADAPTERS as Record<Broker, BrokerAdapter>)[adapter.broker] = adapter;
  const headers = RETURNED_ANSWER_HEADERS as string[];
  for (const name of adapter.calls.returnedHeaders) if (!headers.includes(name)) headers.push(name);
}

for (const adapter of [kisAdapter, kiwoomAdapter]) registerBrokerAdapter(adapter);

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

import type { BrokerAdapter } from "./adapter";
import { kisAdapter } from "./kis";
import { kiwoomAdapter } from "./kiwoom";
import type { Broker } from "./types";

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

import type { Clock } from "../clock";
import type { BrokerError } from "./errors";
import type { AdapterContext, BrokerResponse } from "./http";
import type { OrderDesk } from "./orders";
import type { Broker, BrokerClient, BrokerEnvironment } from "./types";

/** How an adapter reads an answer into an error. */
export interface InterpretOptions {
  /** Scrubbed from the broker's message (a broker might echo them). */
  secrets?: readonly string[];
  clock?: Clock;
  /** The environment whose host answered, so messages can name it (8030, 8031). */
  environment?: BrokerEnvironment;
}

/**
 * Everything the registry and the settings parser need to know about one
 * broker. A new broker is one file exporting one of these, plus its entry in
 * the registry.
 */
export interface BrokerAdapter {
  readonly broker: Broker;
  /** Prefix of its settings: `${prefix}_REAL_URL`, `${prefix}_PAPER_URL`, `${prefix}_MIN_ISSUE_INTERVAL_MS`. */
  readonly settingsPrefix: string;
  readonly defaultBaseUrls: Record<BrokerEnvironment, string>;
  /** Issue pace per app key: the default, and the floor a setting may not go below. */
  readonly minIssueInterval: { defaultMs: number; floorMs: number };
  /** Calls per second per app key the gateway allows by default (`${prefix}_REAL_CALLS_PER_SECOND`…). */
  readonly callsPerSecond: Record<BrokerEnvironment, number>;
  /**
   * Orders' own pace per app key. `shared`: orders and queries count against
   * one broker limit (KIS), so queries get `callsPerSecond` minus this;
   * otherwise the broker budgets them apart (Kiwoom, 5/s each).
   */
  readonly orderCallsPerSecond: Record<BrokerEnvironment, number> & { shared: boolean };
  /** Order paths, order terms and numbers, and the day-orders query. */
  readonly orders: OrderDesk;
  createClient(context: AdapterContext): BrokerClient;
  /**
   * Turn any answer from this broker (token endpoints or API calls) into a
   * typed error, or undefined when it is not an error. `secrets` are scrubbed
   * from the broker's message.
   */
  interpretError(response: BrokerResponse, options?: InterpretOptions): BrokerError | undefined;
}

import type { Clock } from "../clock";
import type { FieldIssue } from "../errors";
import type { BrokerError } from "./errors";
import type { AdapterContext, BrokerResponse } from "./http";
import type { OrderDesk } from "./orders";
import type { StreamProtocol } from "./stream-types";
import type { Broker, BrokerClient, BrokerCredentials, BrokerEnvironment } from "./types";

/** How an adapter reads an answer into an error. */
export interface InterpretOptions {
  /** Scrubbed from the broker's message (a broker might echo them). */
  secrets?: readonly string[];
  clock?: Clock;
  /** The environment whose host answered, so messages can name it (8030, 8031). */
  environment?: BrokerEnvironment;
}

/** What the adapter makes of the transaction id a caller names, for one environment. */
export type TransactionIdVerdict =
  /** Send this id (a paper twin, or the caller's own). */
  | { id: string }
  /** Never sent: why, in a sentence for the caller, and the problem code. */
  | { refused: string; code: "validation_failed" | "not_available_on_paper" };

/**
 * What the gateway needs to forward a caller's call to this broker's REST
 * API: where calls live, which headers pass each way, how the transaction is
 * named (and mapped to paper), and the broker's own auth headers.
 */
export interface BrokerCallRules {
  /** Where its REST calls live (`/uapi/`); anything else (/oauth2/…) is never forwarded. */
  readonly pathPrefix: string;
  /**
   * Request headers a caller may send (lower case), each with a line for the
   * contract (core/api/openapi.ts); every other header stays with the service.
   */
  readonly forwardedHeaders: Readonly<Record<string, string>>;
  /** Answer headers handed back to the caller besides content-type (transaction id, paging). */
  readonly returnedHeaders: readonly string[];
  /** The forwarded header that names the transaction (KIS tr_id, Kiwoom api-id); every call needs one. */
  readonly transactionHeader: string;
  /** The transaction id to send on this environment's host, or why it cannot be sent there. */
  transactionIdFor(id: string, environment: BrokerEnvironment): TransactionIdVerdict;
  /**
   * The headers of a call without the bearer token: the broker's defaults
   * under the caller's forwarded headers, its auth headers over them.
   */
  callHeaders(
    forwarded: Readonly<Record<string, string>>,
    credentials: Pick<BrokerCredentials, "appKey" | "appSecret">,
  ): Record<string, string>;
}

/**
 * Everything the rest of the service needs to know about one broker: the
 * registry, settings, accounts, the gateway, the hub and infra's alarms read
 * it here and nowhere else. A new broker is one file exporting one of these,
 * plus its entry in the registry (core/brokers/adapters.ts).
 */
export interface BrokerAdapter {
  readonly broker: Broker;
  /** Its name as people write it (KIS, Kiwoom), in messages: brokerName() reads it. */
  readonly displayName: string;
  /**
   * Its word in CloudWatch alarm names (`Gateway${alarmName}RateLimited`):
   * letters only, unique among the brokers ("Kis", "Kiwoom").
   */
  readonly alarmName: string;
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
  /** How the gateway forwards a caller's call (core/gateway reads nothing broker-specific elsewhere). */
  readonly calls: BrokerCallRules;
  /**
   * Its own rules on a securities account's `securities_config`, checked on
   * the account as it will be stored, beyond the shape every broker shares
   * (core/accounts/schemas.ts): one issue per offending field, fields named
   * `securities_config.<name>`. Absent when the shared shape is all it needs.
   */
  securitiesConfigIssues?(config: Readonly<Record<string, unknown>>): FieldIssue[];
  /** Its realtime websocket (the hub, core/stream). */
  readonly stream: StreamProtocol;
}

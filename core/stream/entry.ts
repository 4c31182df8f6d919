import type { Duplex } from "node:stream";
import type { WebSocket } from "ws";
import type { Broker, BrokerEnvironment } from "../brokers";
import { BROKER_ADAPTERS, brokerName } from "../brokers/adapters";
import {
  isAccountKind,
  type StreamProtocol,
  type StreamRecord,
  type StreamRegistration,
} from "../brokers/stream-types";
import type { ClientSubscription } from "./client-messages";
import type { StreamEvent } from "./events";
import type { BrokerSession } from "./session";

/** What the hub keeps per app key, per client and per account, and the rules on them that need no I/O. */

/** The broker's websocket protocol, from its adapter. */
export const protocolOf = (broker: Broker): StreamProtocol => BROKER_ADAPTERS[broker].stream;

export const regId = (registration: StreamRegistration) =>
  `${registration.kind}|${registration.key}`;

export interface AccountInfo {
  id: number;
  broker: Broker;
  environment: BrokerEnvironment;
  appKey: string;
  accountNumber: string;
  htsId: string | undefined;
  /** The account's part of a day-orders query (OrderDesk.accountParams): what a catch-up reads with. */
  dayOrdersAccount: Record<string, string>;
}

export interface Client {
  id: string;
  socket: WebSocket;
  keyId: string;
  /** `${accountId}|${kind}|${symbol}` → the registration it holds. */
  subscriptions: Map<
    string,
    { entry: SessionEntry; registration: StreamRegistration; topic: string }
  >;
  /** Topics being replayed from the store: live events wait here. */
  replaying: Map<string, StreamEvent[]>;
}

export interface SessionEntry {
  key: string;
  broker: Broker;
  environment: BrokerEnvironment;
  protocol: StreamProtocol;
  accounts: Map<number, AccountInfo>;
  session: BrokerSession | undefined;
  leased: boolean;
  /** Registration id → the subscriptions (client|account|kind|symbol) holding it. */
  refs: Map<string, { registration: StreamRegistration; holders: Set<string> }>;
  /** Topic (`${kind}|${symbol}` or `${kind}|#${accountId}`) → clients and the account each asked with. */
  topics: Map<string, Map<Client, number>>;
  /** Stored events are written one after another, in arrival order. */
  storing: Promise<void>;
}

/** A refusal a client reads: a code and a sentence. */
export class HubRefusal extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function accountOf(entry: SessionEntry, record: StreamRecord): AccountInfo | undefined {
  const candidates = [...entry.accounts.values()];
  const number = record.accountNumber ?? "";
  return (
    candidates.find(
      (account) =>
        number !== "" &&
        (number === account.accountNumber || number.startsWith(account.accountNumber)),
    ) ?? (candidates.length === 1 ? candidates[0] : undefined)
  );
}

export function toEvent(entry: SessionEntry, record: StreamRecord, accountId: number): StreamEvent {
  return {
    account_id: accountId,
    broker: entry.broker,
    kind: record.kind,
    symbol: record.symbol,
    at: record.at.toISOString(),
    fields: record.fields,
    raw: record.raw,
  };
}

export function registrationFor(
  account: AccountInfo,
  request: ClientSubscription,
): StreamRegistration {
  const protocol = protocolOf(account.broker);
  if (!protocol.kinds.includes(request.kind)) {
    throw new HubRefusal(
      "kind_not_supported",
      `${account.broker} streams ${protocol.kinds.join(", ")}, not ${request.kind}`,
    );
  }
  if (!isAccountKind(request.kind)) return { kind: request.kind, key: request.symbol ?? "" };
  if (protocol.accountKey === "none") return { kind: request.kind, key: "" };
  if (!account.htsId) {
    throw new HubRefusal(
      "hts_id_missing",
      `account ${account.id} has no securities_config.hts_id: ${brokerName(account.broker)} registers execution notices with the HTS id`,
    );
  }
  return { kind: request.kind, key: account.htsId };
}

/** Throws HubRefusal registration_cap when a new registration would not fit (KIS 41, notices keeping theirs). */
export function checkCap(entry: SessionEntry, registration: StreamRegistration): void {
  const cap = entry.protocol.registrationCap;
  if (cap === undefined || entry.refs.has(regId(registration))) return;
  const used = entry.refs.size;
  const notices = [...entry.refs.values()].filter((ref) =>
    isAccountKind(ref.registration.kind),
  ).length;
  // Notices keep their slots: market data may take only what the account kinds leave.
  const reserve = isAccountKind(registration.kind)
    ? 0
    : [...entry.accounts.values()].filter((a) => a.htsId && !entry.refs.has(`notice|${a.htsId}`))
        .length;
  if (used + reserve >= cap) {
    throw new HubRefusal(
      "registration_cap",
      `the ${entry.broker} session of this app key holds ${used} of ${cap} registrations (${used - notices} market data, ${notices} notices${reserve ? `, ${reserve} kept for notices` : ""}); unsubscribe something first`,
    );
  }
}

/** Answers an upgrade request with an HTTP error and closes it. */
export function refuse(socket: Duplex, status: number, code: string, message: string) {
  const body = JSON.stringify({ code, message });
  socket.end(
    `HTTP/1.1 ${status} ${status === 401 ? "Unauthorized" : status === 403 ? "Forbidden" : "Not Found"}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

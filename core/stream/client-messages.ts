import { isAccountKind, STREAM_KINDS, type StreamKind } from "../brokers/stream-types";

/** What a client asks on its websocket. */
export interface ClientSubscription {
  op: "subscribe" | "unsubscribe";
  accountId: number;
  kind: StreamKind;
  /** Market data: the symbol; account kinds: null. */
  symbol: string | null;
  /** Account kinds: resume after this sequence. */
  since: number | undefined;
}

/** A client message that could not be read: `message` names what is wrong. */
export class ClientMessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ClientMessageError";
  }
}

/** Reads one client frame; throws ClientMessageError naming the bad field. */
export function parseClientMessage(text: string): ClientSubscription {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ClientMessageError("a message must be a JSON object");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ClientMessageError("a message must be a JSON object");
  }
  const body = value as Record<string, unknown>;
  const op = body.op;
  if (op !== "subscribe" && op !== "unsubscribe")
    throw new ClientMessageError('op must be "subscribe" or "unsubscribe"');
  const accountId = body.account_id;
  if (typeof accountId !== "number" || !Number.isSafeInteger(accountId) || accountId < 1) {
    throw new ClientMessageError("account_id must be a whole number of at least 1");
  }
  const kind = body.kind;
  if (typeof kind !== "string" || !(STREAM_KINDS as readonly string[]).includes(kind)) {
    throw new ClientMessageError(`kind must be one of ${STREAM_KINDS.join(", ")}`);
  }
  const account = isAccountKind(kind as StreamKind);
  let symbol: string | null = null;
  if (!account) {
    if (typeof body.symbol !== "string" || !/^[0-9A-Z]{6}$/.test(body.symbol)) {
      throw new ClientMessageError("symbol must be a 6-character stock code such as 005930");
    }
    symbol = body.symbol;
  } else if (body.symbol !== undefined) {
    throw new ClientMessageError(
      `symbol is not taken for ${kind}: ${kind} events are the whole account's`,
    );
  }
  let since: number | undefined;
  if (body.since !== undefined) {
    if (!account)
      throw new ClientMessageError(
        "since is only for notice and balance (market data is not stored)",
      );
    if (typeof body.since !== "number" || !Number.isSafeInteger(body.since) || body.since < 0) {
      throw new ClientMessageError("since must be a whole number (a seq from an earlier event)");
    }
    since = body.since;
  }
  return { op, accountId, kind: kind as StreamKind, symbol, since };
}

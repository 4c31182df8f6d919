import { type ErrorKind, ServiceError } from "../errors";

/** The path of an order's resource, for `Location`. */
export function orderLocation(accountId: number, key: string): string {
  return `/accounts/${accountId}/orders/${encodeURIComponent(key)}`;
}

/** Something about the order's intent that the caller must act on; `location` names its resource. */
abstract class OrderError extends ServiceError {
  readonly location: string;
  constructor(code: string, message: string, accountId: number, key: string) {
    super(code, message);
    this.location = orderLocation(accountId, key);
  }
}

/**
 * The base of an order error whose code and message are the same for every
 * order (only its account and key differ). Each such error still extends it
 * as its own class, so `instanceof` and `name` tell them apart.
 */
function keyedOrderError<K extends ErrorKind>(kind: K, code: string, message: string) {
  return class extends OrderError {
    readonly kind: K = kind;
    constructor(accountId: number, key: string) {
      super(code, message, accountId, key);
    }
  };
}

/**
 * The order was written to the broker and its answer was lost (a timeout, a
 * reset, a 5xx, KIS EGW00301/00302): it may have been placed. Never "try again".
 */
export class OrderOutcomeUnknownError extends OrderError {
  readonly kind = "upstream_unavailable";
  constructor(accountId: number, key: string, what: string) {
    super(
      "order_outcome_unknown",
      `The order was sent to the broker but its answer was lost (${what}), so it may or may not have been placed. Do not send it again under a new key; read the order, or retry with the same key.`,
      accountId,
      key,
    );
  }
}

/** The same key's order is being sent right now. */
export class OrderInFlightError extends keyedOrderError(
  "conflict",
  "order_in_flight",
  "An order with this Idempotency-Key is being sent right now; retry with the same key shortly.",
) {
  readonly retryAfterMs = 1_000;
}

/** The key was used for a different request. */
export class IdempotencyKeyReusedError extends keyedOrderError(
  "conflict",
  "idempotency_key_reused",
  "This Idempotency-Key was already used for a different request (method, path, body or transaction id); use a new key for a new order.",
) {}

/** Another order on the same account, symbol and side is still being reconciled. */
export class OrderReconcilingError extends keyedOrderError(
  "conflict",
  "order_reconciling",
  "An earlier order on this account, symbol and side has an unknown outcome that is being reconciled (or the same order is being sent right now); nothing was sent: retry with the same key after Retry-After.",
) {
  readonly retryAfterMs = 1_000;
}

/** More than one of the broker's day orders matches: never guessed. */
export class OrderAmbiguousError extends keyedOrderError(
  "conflict",
  "order_ambiguous",
  "The order's outcome is ambiguous: more than one of the broker's orders of the day matches it. Check the account's orders at the broker; this service will not guess.",
) {}

/** Reconciliation found no such order at the broker: the same key sends it again. */
export class OrderNotPlacedError extends keyedOrderError(
  "upstream_unavailable",
  "order_not_placed",
  "The broker's orders of the day show the order was not placed; retry with the same key to send it again.",
) {
  readonly retryAfterMs = 1_000;
}

/** True for the order errors that carry a Location. */
export function isOrderError(error: unknown): error is OrderError {
  return error instanceof OrderError;
}

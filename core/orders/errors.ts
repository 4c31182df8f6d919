import { ServiceError } from "../errors";

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
export class OrderInFlightError extends OrderError {
  readonly kind = "conflict";
  readonly retryAfterMs = 1_000;
  constructor(accountId: number, key: string) {
    super(
      "order_in_flight",
      "An order with this Idempotency-Key is being sent right now; retry with the same key shortly.",
      accountId,
      key,
    );
  }
}

/** The key was used for a different request. */
export class IdempotencyKeyReusedError extends OrderError {
  readonly kind = "conflict";
  constructor(accountId: number, key: string) {
    super(
      "idempotency_key_reused",
      "This Idempotency-Key was already used for a different request (method, path, body or transaction id); use a new key for a new order.",
      accountId,
      key,
    );
  }
}

/** Another order on the same account, symbol and side is still being reconciled. */
export class OrderReconcilingError extends OrderError {
  readonly kind = "conflict";
  readonly retryAfterMs = 1_000;
  constructor(accountId: number, key: string) {
    super(
      "order_reconciling",
      "An earlier order on this account, symbol and side has an unknown outcome that is being reconciled (or the same order is being sent right now); nothing was sent: retry with the same key after Retry-After.",
      accountId,
      key,
    );
  }
}

/** More than one of the broker's day orders matches: never guessed. */
export class OrderAmbiguousError extends OrderError {
  readonly kind = "conflict";
  constructor(accountId: number, key: string) {
    super(
      "order_ambiguous",
      "The order's outcome is ambiguous: more than one of the broker's orders of the day matches it. Check the account's orders at the broker; this service will not guess.",
      accountId,
      key,
    );
  }
}

/** Reconciliation found no such order at the broker: the same key sends it again. */
export class OrderNotPlacedError extends OrderError {
  readonly kind = "upstream_unavailable";
  readonly retryAfterMs = 1_000;
  constructor(accountId: number, key: string) {
    super(
      "order_not_placed",
      "The broker's orders of the day show the order was not placed; retry with the same key to send it again.",
      accountId,
      key,
    );
  }
}

/** True for the order errors that carry a Location. */
export function isOrderError(error: unknown): error is OrderError {
  return error instanceof OrderError;
}

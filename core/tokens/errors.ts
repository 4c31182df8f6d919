import { ServiceError } from "../errors";

/**
 * No token can be issued right now without breaking the broker's pace, or
 * another process is issuing it and did not finish in time. Ask again after
 * `retryAfterMs`; nothing was sent to the broker.
 */
export class TokenIssuanceDeferredError extends ServiceError {
  readonly kind = "rate_limited";
  readonly retryAfterMs: number;

  constructor(message: string, retryAfterMs: number) {
    super("token_issuance_deferred", message);
    this.retryAfterMs = retryAfterMs;
  }
}

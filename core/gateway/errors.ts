import { ServiceError } from "../errors";

/** The app key's call slots are taken further ahead than a call may wait: nothing was sent. */
export class CallPaceExceededError extends ServiceError {
  readonly kind = "rate_limited";
  readonly retryAfterMs: number;

  constructor(message: string, retryAfterMs: number) {
    super("broker_call_pace_exceeded", message);
    this.retryAfterMs = retryAfterMs;
  }
}

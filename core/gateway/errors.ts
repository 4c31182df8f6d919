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

/** The broker's day orders could not be read whole (a page failed, was refused, or never ended). */
export class DayOrdersUnreadableError extends ServiceError {
  readonly kind = "upstream_unavailable";

  constructor(accountId: number, date: string) {
    super(
      "day_orders_unreadable",
      `could not read the whole of account ${accountId}'s day orders of ${date} from the broker`,
    );
  }
}

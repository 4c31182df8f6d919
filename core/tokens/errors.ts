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

/**
 * The account's credentials changed (or it was deactivated or deleted)
 * while its token was being issued: the token was not stored. The token
 * service asks again once with the account as it is now; callers see this
 * only if that happens twice in a row.
 */
export class CredentialsChangedError extends ServiceError {
  readonly kind = "conflict";

  constructor(accountId: number) {
    super(
      "credentials_changed",
      `account ${accountId} changed its broker credentials while its token was issued; ask again`,
    );
  }
}

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
 * A forced refresh got the current token back from the broker (KIS re-issues
 * the same token within 6 hours of an issue): nothing was renewed, and the
 * caller is told so instead of being shown the old token as a new one.
 */
export class TokenNotRenewedError extends ServiceError {
  readonly kind = "conflict";

  constructor(message: string) {
    super("token_not_renewed", message);
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

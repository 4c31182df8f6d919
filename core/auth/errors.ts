import { type ErrorKind, ServiceError } from "../errors";
import type { Scope } from "./keys";

/** Base of the errors that say a caller may not proceed. */
export abstract class AuthError extends ServiceError {
  abstract override readonly kind: "unauthenticated" | "forbidden";
}

/** No key, a malformed key or a key the store does not hold. */
export class AuthenticationError extends AuthError {
  readonly kind = "unauthenticated";
  readonly reason: "missing" | "malformed" | "unknown";

  constructor(reason: "missing" | "malformed" | "unknown", message: string) {
    super(`api_key_${reason}`, message);
    this.reason = reason;
  }
}

/** A known key without the scope a route needs. */
export class ForbiddenError extends AuthError {
  readonly kind = "forbidden";
  readonly scope: Scope;
  readonly keyId: string;

  constructor(keyId: string, scope: Scope) {
    super("missing_scope", `The API key ${keyId} lacks the scope ${scope} this request needs.`);
    this.scope = scope;
    this.keyId = keyId;
  }
}

/** The key store cannot be read (Secrets Manager refused, the file is broken): no caller can be checked. */
export class ApiKeyStoreError extends ServiceError {
  readonly kind: ErrorKind = "unavailable";
  /** The AWS error name (AccessDeniedException, …) when the store is Secrets Manager. */
  readonly awsError: string | undefined;

  constructor(message: string, options: { cause?: unknown; awsError?: string } = {}) {
    super("api_key_store_unavailable", message, { cause: options.cause });
    this.awsError = options.awsError;
  }
}

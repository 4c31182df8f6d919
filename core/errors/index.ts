/**
 * What went wrong, in words every layer shares. Core code never speaks HTTP:
 * the API's error handler maps a kind to a status in one place.
 */
export type ErrorKind =
  | "validation"
  | "not_found"
  | "conflict"
  | "unauthenticated"
  | "forbidden"
  | "rate_limited"
  | "upstream_unavailable"
  | "upstream_rejected"
  | "unavailable"
  | "internal";

/** Field-level detail of a validation failure. */
export interface FieldIssue {
  /** Dotted path of the offending field, e.g. `securities_config.account_number`. */
  field: string;
  message: string;
}

/** Base of every error this service raises on purpose. */
export abstract class ServiceError extends Error {
  abstract readonly kind: ErrorKind;
  /** Stable machine-readable code, e.g. `account_not_found`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Input that cannot be accepted; nothing was changed. */
export class ValidationError extends ServiceError {
  readonly kind = "validation";
  readonly issues: FieldIssue[];

  /** `code` is `validation_failed` unless a narrower one helps callers (`not_available_on_paper`). */
  constructor(issues: FieldIssue[], message?: string, code = "validation_failed") {
    super(code, message ?? issues.map((issue) => `${issue.field}: ${issue.message}`).join("; "));
    this.issues = issues;
  }
}

/** The thing asked for does not exist. */
export class NotFoundError extends ServiceError {
  readonly kind = "not_found";
}

/** The request conflicts with the current state (duplicate, wrong type, …). */
export class ConflictError extends ServiceError {
  readonly kind = "conflict";
}

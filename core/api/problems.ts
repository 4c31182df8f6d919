import { ApiKeyStoreError, AuthenticationError, ForbiddenError } from "../auth";
import {
  type BrokerCodeKind,
  BrokerError,
  BrokerRateLimitedError,
  BrokerUnavailableError,
} from "../brokers";
import { isDatabaseUnreachable } from "../db";
import { ServiceError, ValidationError } from "../errors";
import { CallPaceExceededError } from "../gateway";
import { isOrderError } from "../orders";

/** Every problem `type` starts with this; the slugs after it are part of the API contract. */
export const PROBLEM_BASE = "https://securities-support/problems/";

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  /** What happened, in snake_case, stable: every problem has one. */
  code: string;
  errors?: { field: string; message: string }[];
  broker?: string;
  broker_code?: string;
  retry_after_seconds?: number;
  /** An order problem's resource: GET it to read the order's state. */
  order?: string;
  /** The request's id, as in its `x-request-id` header and its log lines. */
  request_id?: string;
}

export interface ProblemResponse {
  problem: Problem;
  headers: Record<string, string>;
  /** Unknown errors (a bug) are logged with their stack; expected ones at a lower level. */
  unexpected: boolean;
}

/** The body is not JSON. */
export class MalformedJsonError extends Error {
  constructor() {
    super("The request body is not valid JSON.");
    this.name = "MalformedJsonError";
  }
}

/** The body is over the limit. */
export class PayloadTooLargeError extends Error {
  readonly limitBytes: number;
  constructor(limitBytes: number) {
    super(`The request body is larger than ${limitBytes} bytes.`);
    this.name = "PayloadTooLargeError";
    this.limitBytes = limitBytes;
  }
}

/** A problem document; `extra.code` defaults to the slug in snake_case. */
export function problem(
  slug: string,
  title: string,
  status: number,
  detail: string,
  extra: Partial<Problem> = {},
): Problem {
  return {
    type: `${PROBLEM_BASE}${slug}`,
    title,
    status,
    detail,
    code: slug.replaceAll("-", "_"),
    ...extra,
  };
}

/**
 * The one mapping from an error to an HTTP answer. Core errors carry a kind,
 * never a status; this is where kinds become statuses.
 */
export function toProblem(error: unknown): ProblemResponse {
  const known = (p: Problem, headers: Record<string, string> = {}): ProblemResponse => ({
    problem: p,
    headers,
    unexpected: false,
  });

  if (error instanceof MalformedJsonError) {
    return known(
      problem(
        "malformed-json",
        "Malformed JSON",
        400,
        "The request body is not valid JSON: check quotes, commas and brackets.",
      ),
    );
  }
  if (error instanceof PayloadTooLargeError) {
    return known(
      problem(
        "payload-too-large",
        "Payload too large",
        413,
        `The request body is larger than the ${error.limitBytes}-byte limit; send a smaller body.`,
      ),
    );
  }
  if (error instanceof AuthenticationError) {
    return known(
      problem("unauthorized", "Unauthorized", 401, error.message, { code: error.code }),
      {
        "WWW-Authenticate": `Bearer realm="securities-support"${error.reason === "missing" ? "" : ', error="invalid_token"'}`,
      },
    );
  }
  if (error instanceof ForbiddenError) {
    return known(
      problem(
        "forbidden",
        "Forbidden",
        403,
        `${error.message} Ask an operator for a key with that scope.`,
        { code: "missing_scope" },
      ),
    );
  }
  if (error instanceof ValidationError) {
    return known(
      problem(
        "validation",
        "Invalid request",
        400,
        `Fix the fields listed in errors and send the request again: ${error.message}.`,
        {
          code: error.code,
          errors: error.issues.map((i) => ({ field: i.field, message: i.message })),
        },
      ),
    );
  }
  if (error instanceof BrokerError) return brokerProblem(error);
  if (isOrderError(error)) return orderProblem(error);
  if (error instanceof ApiKeyStoreError) {
    return {
      problem: problem(
        "service-unavailable",
        "Service unavailable",
        503,
        // The caller is not authenticated yet: the store's name, account and
        // IAM hint go to the log (onError), never into this answer.
        "API keys cannot be checked right now; try again later.",
        { code: error.code },
      ),
      headers: { "Retry-After": "30" },
      unexpected: true,
    };
  }
  if (error instanceof ServiceError && error.kind === "rate_limited" && hasRetryAfter(error)) {
    // We hold back for the broker's pace (or another process's issuance): nothing was sent.
    // The gateway's own call pace refusing means the callers are too fast together: 429.
    const seconds = Math.max(1, Math.ceil(error.retryAfterMs / 1000));
    const ours = error instanceof CallPaceExceededError;
    return known(
      problem(
        ours ? "too-many-requests" : "broker-rate-limited",
        ours ? "Too many requests" : "Broker rate limit",
        ours ? 429 : 503,
        `${sentence(error.message)} Retry after ${seconds} s.`,
        {
          code: error.code,
          retry_after_seconds: seconds,
        },
      ),
      { "Retry-After": String(seconds) },
    );
  }
  if (error instanceof ServiceError) {
    switch (error.kind) {
      case "not_found":
        return known(
          problem("not-found", "Not found", 404, sentence(error.message), { code: error.code }),
        );
      case "conflict":
        return known(
          problem("conflict", "Conflict", 409, sentence(error.message), { code: error.code }),
        );
      case "rate_limited":
      case "upstream_unavailable":
      case "upstream_rejected":
      case "unavailable":
        // Not a broker: the key service or the database settings. Their
        // messages name AWS resources, which callers need not see.
        return {
          problem: problem(
            "service-unavailable",
            "Service unavailable",
            503,
            "A service this API depends on is unavailable or refused the request; try again later.",
            { code: error.code },
          ),
          headers: { "Retry-After": "30" },
          unexpected: true,
        };
      default:
        break;
    }
  }
  if (isDatabaseUnreachable(error)) {
    return {
      problem: problem(
        "service-unavailable",
        "Service unavailable",
        503,
        "The database cannot be reached right now; try again shortly.",
        { code: "database_unreachable" },
      ),
      headers: { "Retry-After": "5" },
      unexpected: true,
    };
  }
  return {
    problem: problem(
      "internal",
      "Internal server error",
      500,
      "An unexpected error happened; it has been logged.",
      { code: "internal_error" },
    ),
    headers: {},
    unexpected: true,
  };
}

const REJECTED = "broker-rejected";
const FIX = "with PATCH /accounts/{id}.";

/**
 * What a caller should do about each kind of broker answer (BrokerCodeKind,
 * never the broker's own code): problem slug, status, advice. The error's
 * message says what happened; the advice follows it.
 */
const BROKER_ADVICE: Record<BrokerCodeKind, [string, number, string]> = {
  credentials_invalid: [REJECTED, 502, `Fix them ${FIX}`],
  wrong_environment: [
    REJECTED,
    502,
    `Store the key of the account's environment, or change it, ${FIX}`,
  ],
  ip_not_registered: [
    REJECTED,
    502,
    "Register this service's egress IP address for the app key at the broker.",
  ],
  device_not_registered: [
    REJECTED,
    502,
    "Register the designated device for the app key at the broker.",
  ],
  token_rejected: [
    REJECTED,
    502,
    "Report it with POST /accounts/{id}/token/invalidate; the next read re-issues it once.",
  ],
  ip_mismatch: [
    REJECTED,
    502,
    "Call the broker from the egress IP that issues the tokens (this service's gateway).",
  ],
  rate_limited: ["broker-rate-limited", 503, ""],
  retry_later: ["broker-unavailable", 503, ""],
  outcome_unknown: [
    "broker-outcome-unknown",
    502,
    "Check whether it took effect before sending it again.",
  ],
  bad_request: ["broker-bad-request", 400, ""],
  not_permitted: [
    "broker-not-permitted",
    403,
    "Request access to the API for the app key at the broker.",
  ],
  our_bug: [REJECTED, 502, "A bug in this service (logged)."],
  revoke_failed: [REJECTED, 502, "It stays valid until it expires; try again later."],
  rejected: [REJECTED, 502, ""],
};

/** A broker's refusal as a problem: what happened (the error's message), then what to do. */
function brokerProblem(error: BrokerError): ProblemResponse {
  // A broker that did not answer in time is a gateway timeout, whatever the call was.
  const [slug, status, advice] =
    error instanceof BrokerUnavailableError && error.reason === "timeout"
      ? (["broker-timeout", 504, "Try again shortly."] as const)
      : BROKER_ADVICE[error.codeKind];
  const seconds =
    error instanceof BrokerRateLimitedError
      ? Math.max(1, Math.ceil(error.retryAfterMs / 1000))
      : status === 503
        ? 60
        : undefined;
  const detail = `${sentence(error.message.replace(/; retry after \d+ ms\.?$/, ""))} ${
    seconds && !advice ? `Retry after ${seconds} s.` : advice
  }`.trim();
  return {
    problem: problem(
      slug,
      // "broker-rate-limited" → "Broker rate limited".
      `B${slug.slice(1).replaceAll("-", " ")}`,
      status,
      detail,
      {
        code: error.code,
        broker: error.broker,
        ...(error.brokerCode ? { broker_code: error.brokerCode } : {}),
        ...(seconds ? { retry_after_seconds: seconds } : {}),
      },
    ),
    headers: seconds ? { "Retry-After": String(seconds) } : {},
    // The broker called our request malformed: a bug to look at.
    unexpected: error.codeKind === "our_bug",
  };
}

/** Problem slug and status of each order code (core/orders): the retry advice is in the message. */
const ORDER_PROBLEMS: Record<string, [string, string, number]> = {
  order_outcome_unknown: ["order-outcome-unknown", "Order outcome unknown", 502],
  order_in_flight: ["order-in-flight", "Order in flight", 409],
  idempotency_key_reused: ["idempotency-key-reused", "Idempotency-Key reused", 422],
  order_reconciling: ["order-reconciling", "Order reconciling", 409],
  order_ambiguous: ["order-ambiguous", "Order ambiguous", 409],
  order_not_placed: ["order-not-placed", "Order not placed", 503],
};

/**
 * An order's problem: Location names its resource; Retry-After only where a
 * retry with the same key is safe and useful (never on order_outcome_unknown).
 */
function orderProblem(error: ServiceError & { location: string }): ProblemResponse {
  const [slug, title, status] = ORDER_PROBLEMS[error.code] ?? ["conflict", "Conflict", 409];
  const seconds = hasRetryAfter(error)
    ? Math.max(1, Math.ceil(error.retryAfterMs / 1000))
    : undefined;
  return {
    problem: problem(slug, title, status, sentence(error.message), {
      code: error.code,
      order: error.location,
      ...(seconds ? { retry_after_seconds: seconds } : {}),
    }),
    headers: { Location: error.location, ...(seconds ? { "Retry-After": String(seconds) } : {}) },
    unexpected: false,
  };
}

function hasRetryAfter(error: object): error is { retryAfterMs: number } {
  const value = (error as { retryAfterMs?: unknown }).retryAfterMs;
  return typeof value === "number" && Number.isFinite(value);
}

function sentence(message: string): string {
  const trimmed = message.trim();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

import { ApiKeyStoreError, AuthenticationError, ForbiddenError } from "../auth";
import { BrokerError, type BrokerRateLimitedError, brokerName, hostName } from "../brokers";
import { ServiceError, ValidationError } from "../errors";

/** Every problem `type` starts with this; the slugs after it are part of the API contract. */
export const PROBLEM_BASE = "https://securities-support/problems/";

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  code?: string;
  errors?: { field: string; message: string }[];
  broker?: string;
  broker_code?: string;
  retry_after_seconds?: number;
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

function problem(
  slug: string,
  title: string,
  status: number,
  detail: string,
  extra: Partial<Problem> = {},
): Problem {
  return { type: `${PROBLEM_BASE}${slug}`, title, status, detail, ...extra };
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
    return known(problem("unauthorized", "Unauthorized", 401, error.message), {
      "WWW-Authenticate": `Bearer realm="securities-support"${error.reason === "missing" ? "" : ', error="invalid_token"'}`,
    });
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
  if (error instanceof BrokerError) {
    const [body, headers, unexpected = false] = brokerProblem(error);
    return { problem: body, headers, unexpected };
  }
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
    const seconds = Math.max(1, Math.ceil(error.retryAfterMs / 1000));
    return known(
      problem(
        "broker-rate-limited",
        "Broker rate limit",
        503,
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
    ),
    headers: {},
    unexpected: true,
  };
}

/**
 * A broker's refusal as a problem that says what to do, decided by what the
 * broker's code means (BrokerCodeKind), never by the broker's code itself.
 */
function brokerProblem(error: BrokerError): [Problem, Record<string, string>, boolean?] {
  const broker = brokerName(error.broker);
  const codeText = error.brokerCode ? ` (${error.brokerCode})` : "";
  const extra: Partial<Problem> = {
    code: error.code,
    broker: error.broker,
    ...(error.brokerCode ? { broker_code: error.brokerCode } : {}),
  };
  const rejected = (
    detail: string,
    slug = "broker-rejected",
    status = 502,
  ): [Problem, Record<string, string>] => [
    problem(slug, "Broker rejected the request", status, detail, extra),
    {},
  ];
  const fixWith = "fix it with PATCH /accounts/{id}";
  switch (error.codeKind) {
    case "rate_limited": {
      const seconds = Math.max(1, Math.ceil((error as BrokerRateLimitedError).retryAfterMs / 1000));
      return [
        problem(
          "broker-rate-limited",
          "Broker rate limit",
          503,
          `${broker} asks to slow down${codeText}; retry after ${seconds} s.`,
          { ...extra, retry_after_seconds: seconds },
        ),
        { "Retry-After": String(seconds) },
      ];
    }
    case "retry_later":
      return [
        problem(
          "broker-unavailable",
          "Broker unavailable",
          503,
          `${broker} could not serve the request right now${codeText}; try again in a minute.`,
          { ...extra, retry_after_seconds: 60 },
        ),
        { "Retry-After": "60" },
      ];
    case "credentials_invalid":
      return rejected(
        `${broker} refused the account's app key and secret${codeText}: fix them with PATCH /accounts/{id}.`,
      );
    case "wrong_environment":
      return rejected(
        `${error.environment ? hostName(error.broker, error.environment) : broker} refused the app key as one of the other environment${codeText}: real and mock (paper) keys are mixed up. Store the key issued for this account's environment, or change the account's environment; ${fixWith}.`,
      );
    case "ip_not_registered":
      return rejected(
        `${broker} refused the calling IP address${codeText}: register this service's egress IP address for the app key on the ${broker} developer portal, then retry.`,
      );
    case "device_not_registered":
      return rejected(
        `${broker} refused the device authentication of the app key${codeText}: register the designated device for the app key with ${broker}, then retry.`,
      );
    case "token_rejected":
      return rejected(
        error.brokerCode === "8031"
          ? `${error.environment ? hostName(error.broker, error.environment) : broker} refused a token issued for the other environment${codeText}; report it with POST /accounts/{id}/token/invalidate and ask for the token again: a new one is issued once, in the right environment.`
          : `${broker} rejected the access token${codeText}; report it with POST /accounts/{id}/token/invalidate and ask for the token again: a new one is issued once.`,
      );
    case "ip_mismatch":
      return rejected(
        `${broker} refused the token because it was issued to a different IP address than the one using it${codeText}. ${broker} binds a token to the IP that issued it: call the broker from the same registered egress IP that issues the tokens (this service's broker gateway), not from elsewhere.`,
      );
    case "not_permitted":
      return rejected(
        `${broker} does not permit this app key to use the API${codeText}: request access to it for the app key on the ${broker} developer portal.`,
        "broker-not-permitted",
        403,
      );
    case "bad_request":
      return rejected(
        `${broker} refused the request as invalid${codeText}: ${sentence(error.brokerMessage ?? "check the request's fields")}`,
        "broker-bad-request",
        400,
      );
    case "revoke_failed":
      return rejected(
        `${broker} could not revoke the token${codeText}; it stays valid until it expires. Try again later.`,
      );
    case "our_bug":
      // Logged as unexpected: the broker called our request malformed.
      return [
        problem(
          "broker-rejected",
          "Broker rejected the request",
          502,
          `${broker} called this service's request malformed${codeText}; this is a bug here, not in the account's keys, and it has been logged.`,
          extra,
        ),
        {},
        true,
      ];
    default:
      return rejected(`${broker} rejected the request${codeText}: ${sentence(error.message)}`);
  }
}

function hasRetryAfter(error: object): error is { retryAfterMs: number } {
  const value = (error as { retryAfterMs?: unknown }).retryAfterMs;
  return typeof value === "number" && Number.isFinite(value);
}

function sentence(message: string): string {
  const trimmed = message.trim();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

const UNREACHABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "ENOTFOUND",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "57P01",
  "57P03",
  "53300",
]);

function isDatabaseUnreachable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && UNREACHABLE.has(code);
}

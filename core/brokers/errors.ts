import { ServiceError } from "../errors";
import type { Broker, BrokerEnvironment } from "./types";

/**
 * What a broker's answer code means for this service: one word per thing to
 * do. Both brokers' codes map onto these (kis.ts, kiwoom.ts), and every
 * BrokerError carries one, so the API's problem documents and the gateway
 * decide on it without knowing the broker's codes.
 */
export type BrokerCodeKind =
  /** App key or secret refused: the user must fix the keys. */
  | "credentials_invalid"
  /** A real key on the paper/mock host or the reverse: the keys are in the wrong environment. */
  | "wrong_environment"
  /** The calling IP is not registered for the app key (KIS EGW00207). */
  | "ip_not_registered"
  /** Device / designated-terminal authentication failed (Kiwoom 8040, 8050). */
  | "device_not_registered"
  /** The access token was refused (invalid, unknown, expired, other environment): re-issue once. */
  | "token_rejected"
  /** Kiwoom 8010: the token was issued to another IP than the one using it; only issuing from the caller's IP cures it. */
  | "ip_mismatch"
  /** Too many requests: back off for the Retry-After. */
  | "rate_limited"
  /** The broker failed or is busy (5xx, 1999, 8006/8009, EGW00001/2, timeouts, unreadable answers): try later. */
  | "retry_later"
  /** The broker may or may not have acted on the call: check before sending it again (KIS EGW00301/00302). */
  | "outcome_unknown"
  /** The caller's request is malformed or names something unknown (4xx). */
  | "bad_request"
  /** The app key may not use this API (KIS EGW00206, Kiwoom 8200). */
  | "not_permitted"
  /** We sent something the broker calls malformed (missing headers or fields): a bug here, not the user's keys. */
  | "our_bug"
  /** The broker could not revoke the token (Kiwoom 8015); it stays valid until it expires. */
  | "revoke_failed"
  /** A refusal with a code we do not know. */
  | "rejected";

/** A broker's code table from its codes listed per kind ("8001 8002"); later kinds win. */
export function codeKinds(
  lists: Partial<Record<BrokerCodeKind, string>>,
): Readonly<Record<string, BrokerCodeKind>> {
  return Object.fromEntries(
    Object.entries(lists).flatMap(([kind, list]) => list.split(" ").map((code) => [code, kind])),
  ) as Record<string, BrokerCodeKind>;
}

/** A broker answer's code and what it means; the classifiers' result. */
export interface BrokerAnswerClass {
  /** The broker's specific code (EGW00133, 8005, …), when it sent one. */
  code: string | undefined;
  kind: BrokerCodeKind;
}

/** What every broker error carries besides its message. */
export interface BrokerErrorDetails {
  broker: Broker;
  /** The broker's own code (EGW00133, 8005, …) when it sent one. */
  brokerCode?: string | undefined;
  /** HTTP status of the broker's answer, when there was one. */
  httpStatus?: number | undefined;
  /** The broker's own message, already scrubbed of credentials and tokens. */
  brokerMessage?: string | undefined;
  /** The environment whose host was called, when known. */
  environment?: BrokerEnvironment | undefined;
  cause?: unknown;
}

/** Base of every failure talking to a broker. Messages never contain keys, secrets or tokens. */
export abstract class BrokerError extends ServiceError {
  /** What the broker's answer means for us; see BrokerCodeKind. */
  abstract readonly codeKind: BrokerCodeKind;
  readonly broker: Broker;
  readonly brokerCode: string | undefined;
  readonly httpStatus: number | undefined;
  readonly brokerMessage: string | undefined;
  readonly environment: BrokerEnvironment | undefined;

  constructor(code: string, message: string, details: BrokerErrorDetails) {
    super(code, message, { cause: details.cause });
    this.broker = details.broker;
    this.brokerCode = details.brokerCode;
    this.httpStatus = details.httpStatus;
    this.brokerMessage = details.brokerMessage;
    this.environment = details.environment;
  }
}

/** The broker refused because of its request limits; wait `retryAfterMs` before asking again. */
export class BrokerRateLimitedError extends BrokerError {
  readonly kind = "rate_limited";
  readonly codeKind = "rate_limited";
  readonly retryAfterMs: number;

  constructor(message: string, details: BrokerErrorDetails & { retryAfterMs: number }) {
    super("broker_rate_limited", message, details);
    this.retryAfterMs = details.retryAfterMs;
  }
}

/** The service's error code of each kind: `broker_<kind>`, but for these. */
const CODES: Partial<Record<BrokerCodeKind, string>> = {
  credentials_invalid: "credentials_rejected",
  ip_mismatch: "token_ip_mismatch",
  our_bug: "integration_error",
};

/** The broker understood the request and said no; asking again unchanged will not help. */
export class BrokerRejectedError extends BrokerError {
  readonly kind: "upstream_rejected" = "upstream_rejected";
  readonly codeKind: BrokerCodeKind;

  constructor(message: string, details: BrokerErrorDetails, codeKind: BrokerCodeKind = "rejected") {
    super(`broker_${CODES[codeKind] ?? codeKind}`, message, details);
    this.codeKind = codeKind;
  }
}

/** Why credentials were refused. */
export type CredentialsProblem =
  /** Unknown app key, wrong secret. */
  | "invalid"
  /** A real key used on the paper host, or the other way round. */
  | "environment_mismatch"
  /** The calling IP is not registered for this key. */
  | "ip_not_registered"
  /** The device / designated terminal is not registered or failed authentication. */
  | "device_not_registered";

const CREDENTIALS: Record<CredentialsProblem, BrokerCodeKind> = {
  invalid: "credentials_invalid",
  environment_mismatch: "wrong_environment",
  ip_not_registered: "ip_not_registered",
  device_not_registered: "device_not_registered",
};

/** The app key / secret, or where they are used from, were refused: the account's setup needs fixing. */
export class BrokerCredentialsError extends BrokerRejectedError {
  readonly problem: CredentialsProblem;

  constructor(message: string, details: BrokerErrorDetails & { problem: CredentialsProblem }) {
    super(message, details, CREDENTIALS[details.problem]);
    this.problem = details.problem;
  }
}

/** The access token was refused (invalid, not found, expired, revoked early, other environment): issue a new one, once. */
export class BrokerTokenRejectedError extends BrokerRejectedError {
  constructor(message: string, details: BrokerErrorDetails) {
    super(message, details, "token_rejected");
  }
}

/**
 * Kiwoom 8010: the token was issued to a different IP than the one calling.
 * Not a stale token: issuing again from elsewhere loops. Whatever issues the
 * token and whatever calls the broker must leave through the same IP.
 */
export class BrokerIpMismatchError extends BrokerRejectedError {
  constructor(message: string, details: BrokerErrorDetails) {
    super(message, details, "ip_mismatch");
  }
}

/** Why the broker could not be used. */
export type UnavailableReason = "timeout" | "network" | "server_error" | "unparseable" | "busy";

/** The broker did not answer usefully (timeout, network failure, 5xx, a body we cannot read, "try later"): try later. */
export class BrokerUnavailableError extends BrokerError {
  readonly kind = "upstream_unavailable";
  readonly codeKind = "retry_later";
  readonly reason: UnavailableReason;

  constructor(message: string, details: BrokerErrorDetails & { reason: UnavailableReason }) {
    super("broker_unavailable", message, details);
    this.reason = details.reason;
  }
}

/** True when a broker refused an access token, so the caller should invalidate it and get a fresh one (once). */
export function isTokenRejection(error: unknown): error is BrokerTokenRejectedError {
  return error instanceof BrokerTokenRejectedError;
}

/** True for any error raised by a broker adapter. */
export function isBrokerError(error: unknown): error is BrokerError {
  return error instanceof BrokerError;
}

/**
 * "Kiwoom's mock/paper host", for messages naming an environment; `name` is
 * the broker's display name (hostName() in adapters.ts looks it up).
 */
export function hostOf(name: string, environment: BrokerEnvironment): string {
  return `${name}'s ${environment === "real" ? "real" : "mock/paper"} host`;
}

/** Everything brokerError() needs besides the classification. */
export interface AnswerContext {
  broker: Broker;
  /** The broker's display name (its adapter's `displayName`), which the message starts with. */
  name: string;
  httpStatus: number;
  brokerMessage: string | undefined;
  environment: BrokerEnvironment | undefined;
  /** How long a rate limit asks us to wait (the code's own wait, or Retry-After, whichever is longer). */
  retryAfterMs: number;
  /** The body was not JSON. */
  unreadable: boolean;
}

/** What the broker did, by kind; OTHER becomes the other environment's name. */
const SAYS: Record<BrokerCodeKind, string> = {
  credentials_invalid: "rejected the app key or secret",
  wrong_environment:
    "refused an app key of the OTHER environment: real and mock (paper) keys are mixed up",
  ip_not_registered: "refused the calling IP address (not registered for the app key)",
  device_not_registered: "refused the device authentication of the app key",
  token_rejected: "rejected the access token",
  ip_mismatch: "refused a token issued to a different IP address than the calling one",
  rate_limited: "asks to slow down",
  retry_later: "could not serve the request right now",
  outcome_unknown: "may or may not have acted on the call (check the previous transaction)",
  bad_request: "refused the request as invalid",
  not_permitted: "does not permit the app key to use this API",
  our_bug: "called a request from this service malformed",
  revoke_failed: "could not revoke the token",
  rejected: "refused the request",
};

const PROBLEMS = Object.fromEntries(
  Object.entries(CREDENTIALS).map(([problem, kind]) => [kind, problem]),
) as Partial<Record<BrokerCodeKind, CredentialsProblem>>;

/** The one place a classified broker answer becomes a typed error with a message that says what happened. */
export function brokerError(answer: BrokerAnswerClass, context: AnswerContext): BrokerError {
  const { broker, httpStatus, brokerMessage, environment, retryAfterMs } = context;
  const { code, kind } = answer;
  const details: BrokerErrorDetails = {
    broker,
    brokerCode: code,
    httpStatus,
    brokerMessage,
    environment,
  };
  const said = code
    ? ` (${code}${brokerMessage ? `: ${brokerMessage}` : ""})`
    : brokerMessage
      ? ` (${brokerMessage})`
      : ` (HTTP ${httpStatus})`;
  const reason = httpStatus >= 500 ? "server_error" : context.unreadable ? "unparseable" : "busy";
  const text =
    kind === "retry_later" && reason !== "busy"
      ? `answered HTTP ${httpStatus}${context.unreadable ? " with a body that is not JSON" : ""}`
      : code === "8031"
        ? "refused a token issued for the OTHER environment"
        : SAYS[kind];
  const other = environment === "real" ? "paper/mock" : environment ? "real" : "other";
  const message = `${environment ? hostOf(context.name, environment) : context.name} ${text.replace("OTHER", other)}${said}${
    kind === "rate_limited" ? `; retry after ${retryAfterMs} ms` : ""
  }.`;
  const problem = PROBLEMS[kind];
  if (problem) return new BrokerCredentialsError(message, { ...details, problem });
  switch (kind) {
    case "rate_limited":
      return new BrokerRateLimitedError(message, { ...details, retryAfterMs });
    case "retry_later":
      return new BrokerUnavailableError(message, { ...details, reason });
    case "token_rejected":
      return new BrokerTokenRejectedError(message, details);
    case "ip_mismatch":
      return new BrokerIpMismatchError(message, details);
    default:
      return new BrokerRejectedError(message, details, kind);
  }
}

import { ServiceError } from "../errors";
import type { Broker } from "./types";

/** What every broker error carries besides its message. */
export interface BrokerErrorDetails {
  broker: Broker;
  /** The broker's own code (EGW00133, 8005, …) when it sent one. */
  brokerCode?: string;
  /** HTTP status of the broker's answer, when there was one. */
  httpStatus?: number;
  /** The broker's own message, already scrubbed of credentials and tokens. */
  brokerMessage?: string;
  cause?: unknown;
}

/** Base of every failure talking to a broker. Messages never contain keys, secrets or tokens. */
export abstract class BrokerError extends ServiceError {
  readonly broker: Broker;
  readonly brokerCode: string | undefined;
  readonly httpStatus: number | undefined;
  readonly brokerMessage: string | undefined;

  constructor(code: string, message: string, details: BrokerErrorDetails) {
    super(code, message, { cause: details.cause });
    this.broker = details.broker;
    this.brokerCode = details.brokerCode;
    this.httpStatus = details.httpStatus;
    this.brokerMessage = details.brokerMessage;
  }
}

/** The broker refused because of its request limits; wait `retryAfterMs` before asking again. */
export class BrokerRateLimitedError extends BrokerError {
  readonly kind = "rate_limited";
  readonly retryAfterMs: number;

  constructor(message: string, details: BrokerErrorDetails & { retryAfterMs: number }) {
    super("broker_rate_limited", message, details);
    this.retryAfterMs = details.retryAfterMs;
  }
}

/** The broker understood the request and said no; asking again unchanged will not help. */
export class BrokerRejectedError extends BrokerError {
  readonly kind: "upstream_rejected" = "upstream_rejected";

  constructor(message: string, details: BrokerErrorDetails, code = "broker_rejected") {
    super(code, message, details);
  }
}

/** Why credentials were refused. */
export type CredentialsProblem =
  /** Unknown app key, wrong secret. */
  | "invalid"
  /** A real key used on the paper host, or the other way round. */
  | "environment_mismatch"
  /** The calling IP or device is not registered for this key. */
  | "ip_not_allowed";

/** The app key / secret were refused: the account's credentials need fixing. */
export class BrokerCredentialsError extends BrokerRejectedError {
  readonly problem: CredentialsProblem;

  constructor(message: string, details: BrokerErrorDetails & { problem: CredentialsProblem }) {
    super(message, details, "broker_credentials_rejected");
    this.problem = details.problem;
  }
}

/** The access token was refused (invalid, not found, expired, revoked early, issued to another IP): issue a new one. */
export class BrokerTokenRejectedError extends BrokerRejectedError {
  constructor(message: string, details: BrokerErrorDetails) {
    super(message, details, "broker_token_rejected");
  }
}

/** Why the broker could not be used. */
export type UnavailableReason = "timeout" | "network" | "server_error" | "unparseable";

/** The broker did not answer usefully (timeout, network failure, 5xx, a body we cannot read): try later. */
export class BrokerUnavailableError extends BrokerError {
  readonly kind = "upstream_unavailable";
  readonly reason: UnavailableReason;

  constructor(message: string, details: BrokerErrorDetails & { reason: UnavailableReason }) {
    super("broker_unavailable", message, details);
    this.reason = details.reason;
  }
}

/** True when a broker refused an access token, so the caller should invalidate it and get a fresh one. */
export function isTokenRejection(error: unknown): error is BrokerTokenRejectedError {
  return error instanceof BrokerTokenRejectedError;
}

/** True for any error raised by a broker adapter. */
export function isBrokerError(error: unknown): error is BrokerError {
  return error instanceof BrokerError;
}

import type { AccountBrokerCredentials } from "../accounts";
import {
  type BrokerError,
  type BrokerRegistry,
  type BrokerSend,
  type BrokerSettings,
  BrokerUnavailableError,
  brokerUnreachable,
  parseJson,
  type RawAnswer,
} from "../brokers";
import type { Logger } from "../log";
import { type Metrics, recordGatewayCall } from "../metrics";
import { type CallRecord, callRecord, withOrder } from "./audit";
import { CallPaceExceededError } from "./errors";
import type { BrokerCall, BrokerCallAnswer, Exchange } from "./gateway";
import { callHeaders, forwardedHeaders, RETURNED_HEADERS } from "./request";

/** Below this much time left before the caller's deadline, nothing more is sent. */
const DEADLINE_MARGIN_MS = 300;

/** What sending a call needs from the gateway that built it. */
export interface ForwardDependencies {
  brokers: BrokerRegistry;
  brokerSettings: BrokerSettings;
  send: BrokerSend;
  logger: Logger;
  metrics: Metrics;
  /** Writes the call's audit row, off the answer's path. */
  audit(record: CallRecord, failed: boolean): void;
}

/** A call whose slot is taken and whose token is read, ready for the wire. */
export interface PacedCall {
  request: BrokerCall;
  credentials: AccountBrokerCredentials;
  target: { path: string; query: string };
  accessToken: string;
  /** The one replay after a token rejection. */
  replayed: boolean;
  /** How long the call waited for its slot (the paced-wait metric). */
  pacedWaitMs: number;
  /** Runs as the request is about to be written: a late call books a later slot, or throws a pacing refusal. */
  onTime: () => Promise<void>;
}

/**
 * Sends one paced call with the account's token and the broker's auth
 * headers, bounded by the caller's deadline; logs it, counts it and
 * classifies the answer. The exchange's audit row is written when its
 * `audit` is called.
 */
export async function forwardCall(deps: ForwardDependencies, call: PacedCall): Promise<Exchange> {
  const { brokers, brokerSettings, send, logger, metrics, audit } = deps;
  const { request, credentials, target, accessToken, replayed, pacedWaitMs, onTime } = call;
  const { broker, environment, appKey, appSecret } = credentials;
  const forwarded = forwardedHeaders(broker, environment, request.header);
  const headers: Record<string, string> = {
    "content-type": "application/json;charset=UTF-8",
    ...callHeaders(broker, forwarded, { appKey, appSecret }),
    authorization: `Bearer ${accessToken}`,
  };
  const record = callRecord(request, credentials, target.path, forwarded, replayed);
  const started = performance.now();
  let raw: RawAnswer | undefined;
  let error: Error | undefined;
  let body: unknown;
  let written = false;
  let sentAt: Date | undefined;
  // The caller's deadline bounds the exchange: an answer nobody waits for is worse than none.
  const left = request.deadline
    ? request.deadline.getTime() - Date.now() - DEADLINE_MARGIN_MS
    : Number.POSITIVE_INFINITY;
  const timeoutMs = Math.min(brokerSettings.timeoutMs, left);
  try {
    if (timeoutMs < 50) {
      throw new BrokerUnavailableError(
        `${broker} was not called: the request's deadline is too close (nothing was sent).`,
        { broker, reason: "timeout" },
      );
    }
    raw = await send(
      request.method,
      `${brokerSettings.brokers[broker].baseUrls[environment]}${target.path}${target.query ? `?${target.query}` : ""}`,
      request.body,
      headers,
      timeoutMs,
      async () => {
        await onTime();
        // From here on the request is being written: its outcome may be unknown.
        written = true;
        sentAt = new Date();
      },
    );
    written = true;
    sentAt ??= new Date(Date.now() - Math.round(performance.now() - started));
    record.status = raw.status;
    body = parseJson(raw.text);
    error = brokers.interpretError(broker, { status: raw.status, headers: raw.headers, body }, [
      appKey,
      appSecret,
      accessToken,
    ]);
  } catch (failure) {
    error =
      failure instanceof CallPaceExceededError || failure instanceof BrokerUnavailableError
        ? failure
        : brokerUnreachable(broker, failure, timeoutMs);
  }
  const refused = error instanceof CallPaceExceededError;
  record.latency_ms = Math.round(performance.now() - started);
  record.broker_code = (error as BrokerError | undefined)?.brokerCode ?? null;
  if (refused) record.refused = true;
  logger.info({ event: "broker_call", ...record }, "broker call");
  if (!refused) {
    recordGatewayCall(metrics, {
      broker,
      status: record.status,
      brokerCode: record.broker_code ?? undefined,
      latencyMs: record.latency_ms,
      pacedWaitMs,
      rateLimited: (error as BrokerError | undefined)?.kind === "rate_limited",
    });
  }
  let answer: BrokerCallAnswer | undefined;
  if (raw) {
    const answerHeaders: Record<string, string> = {};
    for (const name of RETURNED_HEADERS) {
      const value = raw.headers.get(name);
      if (value !== null) answerHeaders[name] = value;
    }
    answer = { status: raw.status, headers: answerHeaders, body: raw.text };
  }
  return {
    answer,
    error,
    written,
    sentAt,
    body,
    audit: (order) => audit(withOrder(record, order), error !== undefined && !refused),
  };
}

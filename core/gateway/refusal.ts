import type { AccountBrokerCredentials } from "../accounts";
import type { Logger } from "../log";
import { type CallRecord, callRecord, withOrder } from "./audit";
import { CallPaceExceededError } from "./errors";
import type { BrokerCall, Exchange } from "./gateway";
import { forwardedHeaders } from "./request";

/** The audit row of a call the pacing refused before the wire (status 0, no broker code). */
export function refusalRecord(
  request: BrokerCall,
  key: Pick<AccountBrokerCredentials, "broker" | "environment">,
  target: { path: string },
  replayed: boolean,
): CallRecord {
  const forwarded = forwardedHeaders(key.broker, key.environment, request.header);
  const record = callRecord(request, key, target.path, forwarded, replayed);
  return { ...record, refused: true };
}

/**
 * A pacing refusal before the wire as an exchange: nothing was sent, the
 * caller gets the 429, and its audit row says refused (never a failed broker
 * call), written off the answer's path like every other row.
 */
export function refusedExchange(
  record: CallRecord,
  error: CallPaceExceededError,
  deps: { logger: Logger; audit(record: CallRecord, failed: boolean): void },
): Exchange {
  deps.logger.info({ event: "broker_call", ...record }, "broker call");
  return {
    answer: undefined,
    error,
    written: false,
    sentAt: undefined,
    body: undefined,
    audit: (order) => deps.audit(withOrder(record, order), false),
  };
}

/** A pacing refusal is answered (it becomes the exchange); anything else goes on up. */
export function paceRefusalOnly(error: unknown): CallPaceExceededError {
  if (error instanceof CallPaceExceededError) return error;
  throw error;
}

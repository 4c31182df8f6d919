import type { Clock } from "../clock";
import { BrokerUnavailableError } from "./errors";
import type { JsonPost, RawAnswer } from "./transport";
import type { Broker, BrokerCredentials, BrokerEnvironment } from "./types";

/** What an adapter gets from the registry. */
export interface AdapterContext {
  post: JsonPost;
  timeoutMs: number;
  clock: Clock;
  baseUrls: Record<BrokerEnvironment, string>;
  minIssueIntervalMs: number;
}

/** A broker's answer: status, headers and the JSON body (undefined when the body is not JSON). */
export interface BrokerResponse {
  status: number;
  headers?: Headers;
  body: unknown;
}

/** POST a JSON body with a timeout; network failures and timeouts become BrokerUnavailableError. */
export async function postJson(
  broker: Broker,
  context: AdapterContext,
  url: string,
  payload: Record<string, string>,
  headers: Record<string, string>,
): Promise<BrokerResponse> {
  let answer: RawAnswer;
  try {
    answer = await context.post(url, JSON.stringify(payload), headers, context.timeoutMs);
  } catch (error) {
    // The transport's error names only the address and the failure, never the body we sent.
    throw brokerUnreachable(broker, error, context.timeoutMs);
  }
  return { status: answer.status, headers: answer.headers, body: parseJson(answer.text) };
}

/** A transport failure (timeout or network) as the broker error it means. */
export function brokerUnreachable(
  broker: Broker,
  error: unknown,
  timeoutMs: number,
): BrokerUnavailableError {
  return isTimeout(error)
    ? new BrokerUnavailableError(`${broker} did not answer within ${timeoutMs} ms.`, {
        broker,
        reason: "timeout",
        cause: error,
      })
    : new BrokerUnavailableError(`${broker} could not be reached.`, {
        broker,
        reason: "network",
        cause: error,
      });
}

function isTimeout(error: unknown): boolean {
  return (
    error instanceof Error &&
    (error.name === "TimeoutError" ||
      error.name === "AbortError" ||
      (error.cause instanceof Error && error.cause.name === "TimeoutError"))
  );
}

/** The JSON a text holds; undefined when it is empty or not JSON. */
export function parseJson(text: string): unknown {
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A plain JSON object, or undefined. */
export function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** A non-empty string field, or undefined. */
export function stringField(body: Record<string, unknown>, name: string): string | undefined {
  const value = body[name];
  if (typeof value === "string" && value.trim() !== "") return value.trim();
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return undefined;
}

/** A numeric field sent as a number or a numeric string, or undefined. */
export function numberField(body: Record<string, unknown>, name: string): number | undefined {
  const value = body[name];
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && /^-?\d+(\.\d+)?$/.test(value.trim())) return Number(value);
  return undefined;
}

/**
 * The broker's message, safe to keep: whatever we sent that is secret is cut
 * out (a broker might echo it), and it is shortened.
 */
export function scrub(message: string | undefined, secrets: readonly string[]): string | undefined {
  if (message === undefined) return undefined;
  let safe = message;
  for (const secret of secrets) {
    if (secret.length >= 4) safe = safe.split(secret).join("[redacted]");
  }
  return safe.length > 200 ? `${safe.slice(0, 200)}…` : safe;
}

/** The secrets of one call, for scrub(). */
export function secretsOf(credentials: BrokerCredentials, accessToken?: string): string[] {
  return [credentials.appKey, credentials.appSecret, accessToken ?? ""];
}

/** Retry-After in milliseconds (delta-seconds or an HTTP date), or undefined. */
export function retryAfterMs(headers: Headers | undefined, clock: Clock): number | undefined {
  const value = headers?.get("retry-after")?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - clock.now().getTime());
}

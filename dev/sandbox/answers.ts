import type { BrokerEnvironment } from "../../core/brokers";
import type { SandboxConfig } from "./config";
import type { SandboxState } from "./state";

/** What the HTTP layer writes back. A string body is sent as text/plain. */
export interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface BrokerRequest {
  method: string;
  /** Path after the `/<broker>/<environment>` prefix, without the query. */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body; {} when absent or unreadable. */
  body: Record<string, unknown>;
  /** The client's address (IPv4-mapped IPv6 unwrapped): Kiwoom binds tokens to it. */
  clientIp: string;
  /** performance.now() when the request arrived, before any configured latency: what per-second limits count. */
  arrivedAt: number;
}

export interface BrokerContext {
  state: SandboxState;
  config: SandboxConfig;
  environment: BrokerEnvironment;
  random: () => number;
}

/** One broker's behaviour in the sandbox. */
export interface SandboxBroker {
  /** Issue and revoke: where injected faults apply. */
  isTokenEndpoint(request: BrokerRequest): boolean;
  /** The broker's own rate-limit answer, for an injected "rate_limit" fault. */
  rateLimitAnswer(request: BrokerRequest, random: () => number): Answer;
  /** The paths that place or change orders: where order faults apply and a gone client never drops the order. */
  readonly orderPaths: ReadonlySet<string>;
  /** The broker's refusal of an order before booking it (the reject_before_book fault). */
  orderRefusal(request: BrokerRequest): Answer;
  /** Answer a request, or undefined for a path this broker does not have. */
  handle(request: BrokerRequest, context: BrokerContext): Answer | undefined;
}

export function bearer(headers: BrokerRequest["headers"]): string | undefined {
  const value = headers.authorization;
  const text = Array.isArray(value) ? value[0] : value;
  const match = text ? /^Bearer\s+(\S+)$/i.exec(text.trim()) : null;
  return match?.[1];
}

export function header(headers: BrokerRequest["headers"], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A body field as text: strings as they are, numbers written out; undefined otherwise. */
export function textField(body: Record<string, unknown>, name: string): string | undefined {
  const value = body[name];
  if (typeof value === "string") return value;
  return typeof value === "number" ? String(value) : undefined;
}

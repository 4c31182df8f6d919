import { setTimeout as sleep } from "node:timers/promises";
import {
  type AccountBrokerCredentials,
  inactiveAccount,
  loadVersionedBrokerCredentials,
} from "../accounts";
import {
  type BrokerRegistry,
  type BrokerSend,
  type BrokerSettings,
  brokerUnreachable,
  isBrokerError,
  isTokenRejection,
  sendOverHttp,
} from "../brokers";
import type { Cipher } from "../crypto";
import type { Sql } from "../db";
import { NotFoundError } from "../errors";
import { type Logger, silentLogger } from "../log";
import { type Metrics, noMetrics, recordGatewayCall } from "../metrics";
import { credentialKey, type TokenService } from "../tokens";
import { type GatewayStatusReport, gatewayStatus, recordCall } from "./audit";
import { CallPaceExceededError } from "./errors";
import { takeCallSlot } from "./pacing";
import { brokerTarget, forwardedHeaders, RETURNED_HEADERS, transactionId } from "./request";
import { callSpacingMs, DEFAULT_GATEWAY_SETTINGS, type GatewaySettings } from "./settings";

/** A caller's request to a broker, as the route hands it over. */
export interface BrokerCall {
  accountId: number;
  method: "GET" | "POST";
  /** Everything after `/accounts/{id}/broker`: the broker path and its query. */
  target: string;
  /** The caller's request headers, by lower-case name. */
  header(name: string): string | undefined;
  /** The caller's JSON body, passed on as it is (POST only). */
  body: string | undefined;
  /** The caller's API key id, for the audit. */
  keyId: string | undefined;
  /** When the caller stops waiting: a token issuance is not awaited past it. */
  deadline?: Date;
}

/** The broker's answer as the caller gets it: status, body and paging headers unchanged. */
export interface BrokerCallAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface BrokerGateway {
  /** Forward one call: token, pacing, token rejection (once), audit. */
  call(request: BrokerCall): Promise<BrokerCallAnswer>;
  /** Call counts and the last broker error per account. */
  status(): Promise<GatewayStatusReport>;
}

export interface BrokerGatewayDependencies {
  sql: Sql;
  cipher: Cipher;
  tokens: Pick<TokenService, "getValidToken" | "invalidate">;
  brokers: BrokerRegistry;
  brokerSettings: BrokerSettings;
  settings?: GatewaySettings;
  logger?: Logger;
  /** How a call reaches the broker; node:http(s) with keep-alive by default. */
  send?: BrokerSend;
  /** Calls by broker and answer, latency, paced waits (EMF). */
  metrics?: Metrics;
}

interface Access {
  credentials: AccountBrokerCredentials;
  updatedAt: Date;
  key: string;
}

type Attempt =
  | { answer: BrokerCallAnswer; rejectedToken?: undefined }
  | { answer?: undefined; rejectedToken: string };

/** How late a slot may be used before a fresh one is taken: half the jitter allowance. */
const lateness = (settings: GatewaySettings) => settings.jitterMs / 2;

/**
 * The service as the brokers' one door: the account's token and the
 * broker's own auth headers are added here, calls are paced per app key
 * across every process, a token rejection is handled once for everyone.
 */
export function createBrokerGateway(deps: BrokerGatewayDependencies): BrokerGateway {
  const { sql, cipher, tokens, brokers, brokerSettings } = deps;
  const settings = deps.settings ?? DEFAULT_GATEWAY_SETTINGS;
  const logger = deps.logger ?? silentLogger;
  const send = deps.send ?? sendOverHttp;
  const metrics = deps.metrics ?? noMetrics;
  // Decrypted credentials per account, checked against the row's updated_at on every call.
  const accesses = new Map<number, Access>();

  async function accessFor(accountId: number): Promise<Access> {
    const cached = accesses.get(accountId);
    if (cached) return cached;
    const { credentials, updatedAt } = await loadVersionedBrokerCredentials(sql, cipher, accountId);
    const access = {
      credentials,
      updatedAt,
      key: credentialKey(credentials.broker, credentials.environment, credentials.appKey),
    };
    accesses.set(accountId, access);
    return access;
  }

  async function attempt(
    request: BrokerCall,
    first: Access,
    target: { path: string; query: string },
    replayed: boolean,
  ): Promise<Attempt> {
    let access = first;
    const { accountId } = request;
    for (let round = 0; ; round++) {
      const { broker, environment } = access.credentials;
      const spacingMs = callSpacingMs(settings, broker, environment);
      const slot = await takeCallSlot(sql, {
        key: access.key,
        broker,
        environment,
        accountId,
        spacingMs,
        maxWaitMs: settings.maxWaitMs,
      });
      const due = performance.now() + (slot.waitMs ?? 0);
      if (!slot.account) {
        accesses.delete(accountId);
        throw new NotFoundError("account_not_found", `account ${accountId} does not exist`);
      }
      if (slot.account.updatedAt.getTime() !== access.updatedAt.getTime()) {
        // The account changed (maybe its app key): decrypt it again and pace under its key.
        accesses.delete(accountId);
        access = await accessFor(accountId);
        continue;
      }
      if (!slot.account.active) throw inactiveAccount(accountId);
      if (slot.waitMs === undefined) {
        const retryAfterMs = Math.max(1000, slot.queuedMs - settings.maxWaitMs);
        throw new CallPaceExceededError(
          `${broker} ${environment} calls of this app key are booked ${Math.ceil(slot.queuedMs)} ms ahead, more than the ${settings.maxWaitMs} ms a call may wait`,
          retryAfterMs,
        );
      }
      const [token] = await Promise.all([
        tokens.getValidToken(accountId, {
          alreadyRead: { stored: slot.account.stored },
          ...(request.deadline ? { deadline: request.deadline } : {}),
        }),
        slot.waitMs > 0 ? sleep(slot.waitMs) : undefined,
      ]);
      // Issuing a token can outlast the slot; a call sent late would crowd the next ones.
      if (performance.now() - due > lateness(settings) && round < 3) continue;
      return forward(request, access, target, token.accessToken, replayed, slot.waitMs);
    }
  }

  async function forward(
    request: BrokerCall,
    access: Access,
    target: { path: string; query: string },
    accessToken: string,
    replayed: boolean,
    pacedWaitMs: number,
  ): Promise<Attempt> {
    const { broker, environment, appKey, appSecret } = access.credentials;
    const forwarded = forwardedHeaders(broker, environment, request.header);
    const headers: Record<string, string> =
      broker === "KIS"
        ? {
            "content-type": "application/json; charset=utf-8",
            custtype: "P",
            ...forwarded,
            authorization: `Bearer ${accessToken}`,
            appkey: appKey,
            appsecret: appSecret,
          }
        : {
            "content-type": "application/json;charset=UTF-8",
            ...forwarded,
            authorization: `Bearer ${accessToken}`,
          };
    const url = `${brokerSettings.brokers[broker].baseUrls[environment]}${target.path}${target.query ? `?${target.query}` : ""}`;
    const at = new Date();
    const started = performance.now();
    const audit = {
      accountId: request.accountId,
      at,
      broker,
      environment,
      method: request.method,
      path: target.path,
      transactionId: transactionId(broker, forwarded),
      keyId: request.keyId,
      replayed,
      pacedWaitMs,
    };
    let raw: Awaited<ReturnType<BrokerSend>>;
    try {
      raw = await send(request.method, url, request.body, headers, brokerSettings.timeoutMs);
    } catch (error) {
      const unreachable = brokerUnreachable(broker, error, brokerSettings.timeoutMs);
      await finish({
        ...audit,
        status: 0,
        brokerCode: undefined,
        latencyMs: performance.now() - started,
        failed: true,
        rateLimited: false,
      });
      throw unreachable;
    }
    const latencyMs = performance.now() - started;
    const error = brokers.interpretError(
      broker,
      { status: raw.status, headers: raw.headers, body: parseJson(raw.text) },
      [appKey, appSecret, accessToken],
    );
    await finish({
      ...audit,
      status: raw.status,
      brokerCode: isBrokerError(error) ? error.brokerCode : undefined,
      latencyMs,
      failed: error !== undefined,
      rateLimited: error?.kind === "rate_limited",
    });
    if (isTokenRejection(error) && !replayed) return { rejectedToken: accessToken };
    const answerHeaders: Record<string, string> = {
      "content-type": raw.headers.get("content-type") ?? "application/json; charset=utf-8",
    };
    for (const name of RETURNED_HEADERS) {
      const value = raw.headers.get(name);
      if (value !== null) answerHeaders[name] = value;
    }
    return { answer: { status: raw.status, headers: answerHeaders, body: raw.text } };
  }

  async function finish(
    record: Parameters<typeof recordCall>[1] & { pacedWaitMs: number; rateLimited: boolean },
  ): Promise<void> {
    recordGatewayCall(metrics, record);
    logger.info(
      {
        event: "broker_call",
        account_id: record.accountId,
        broker: record.broker,
        environment: record.environment,
        method: record.method,
        path: record.path,
        transaction_id: record.transactionId,
        status: record.status,
        broker_code: record.brokerCode,
        latency_ms: Math.round(record.latencyMs * 10) / 10,
        key_id: record.keyId,
        replayed: record.replayed,
      },
      "broker call",
    );
    await recordCall(sql, record).catch((error: unknown) => {
      logger.error(
        { event: "broker_call_not_recorded", err: error },
        "could not record a broker call",
      );
    });
  }

  return {
    async call(request) {
      const access = await accessFor(request.accountId);
      // Checked before any slot is taken: a bad path is never forwarded and costs nothing.
      const target = brokerTarget(access.credentials.broker, request.target);
      const first = await attempt(request, access, target, false);
      if (first.answer) return first.answer;
      // The broker refused the token before acting on the call, so one replay cannot double an order.
      await tokens.invalidate(request.accountId, first.rejectedToken);
      accesses.delete(request.accountId);
      const again = await attempt(request, await accessFor(request.accountId), target, true);
      return again.answer as BrokerCallAnswer;
    },
    status: () => gatewayStatus(sql),
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

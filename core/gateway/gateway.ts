import { setTimeout as sleep } from "node:timers/promises";
import {
  type AccountBrokerCredentials,
  inactiveAccount,
  loadVersionedBrokerCredentials,
} from "../accounts";
import {
  type BrokerError,
  type BrokerRegistry,
  type BrokerSend,
  type BrokerSettings,
  brokerUnreachable,
  isTokenRejection,
  parseJson,
  type RawAnswer,
  sendOverHttp,
} from "../brokers";
import type { Cipher } from "../crypto";
import type { Sql } from "../db";
import { type Logger, silentLogger } from "../log";
import { type Metrics, noMetrics, recordGatewayCall } from "../metrics";
import { credentialKey, type TokenService } from "../tokens";
import { type CallRecord, type GatewayStatusReport, gatewayStatus, recordCall } from "./audit";
import { CallPaceExceededError } from "./errors";
import { takeCallSlot } from "./pacing";
import {
  brokerTarget,
  callHeaders,
  forwardedHeaders,
  RETURNED_HEADERS,
  transactionId,
} from "./request";

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
  /** Call counts and the last broker error per account (this process's calls all recorded first). */
  status(): Promise<GatewayStatusReport>;
  /**
   * Resolves when every call answered so far is recorded. The audit row is
   * written after the answer leaves, off the caller's path; a Lambda awaits
   * this before returning (it is frozen after) and a server before closing its pool.
   */
  settled(): Promise<void>;
}

export interface BrokerGatewayDependencies {
  sql: Sql;
  cipher: Cipher;
  tokens: Pick<TokenService, "getValidToken" | "invalidate">;
  brokers: BrokerRegistry;
  brokerSettings: BrokerSettings;
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

/**
 * The service as the brokers' one door: the account's token and the
 * broker's own auth headers are added here, calls are paced per app key
 * across every process, a token rejection is handled once for everyone.
 */
export function createBrokerGateway(deps: BrokerGatewayDependencies): BrokerGateway {
  const { sql, cipher, tokens, brokers, brokerSettings } = deps;
  const { callMaxWaitMs: maxWaitMs, callJitterMs: jitterMs } = brokerSettings;
  const logger = deps.logger ?? silentLogger;
  const send = deps.send ?? sendOverHttp;
  const metrics = deps.metrics ?? noMetrics;
  // Decrypted credentials per account, checked against the row's updated_at on every call.
  const accesses = new Map<number, Access>();
  // Audit writes under way: the answer does not wait for its row.
  const recording = new Set<Promise<void>>();

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

  function paceExceeded(queuedMs: number | null): CallPaceExceededError {
    return new CallPaceExceededError(
      "this app key's calls are booked past the wait bound",
      Math.max(1000, (queuedMs ?? 0) - maxWaitMs),
    );
  }

  async function attempt(
    request: BrokerCall,
    first: Access,
    target: { path: string; query: string },
    replayed: boolean,
  ): Promise<Attempt> {
    let access = first;
    const { accountId } = request;
    const book = () => {
      const { broker, environment } = access.credentials;
      return takeCallSlot(sql, {
        key: access.key,
        broker,
        environment,
        accountId,
        // N calls per (1000 ms + jitter allowance).
        spacingMs: (1000 + jitterMs) / brokerSettings.brokers[broker].callsPerSecond[environment],
        maxWaitMs,
      });
    };
    for (;;) {
      const slot = await book();
      if (slot?.updatedAt.getTime() !== access.updatedAt.getTime()) {
        // Gone, or changed (maybe its app key): load it again (a 404 if gone) and pace under its key.
        accesses.delete(accountId);
        access = await accessFor(accountId);
        continue;
      }
      if (!slot.active) throw inactiveAccount(accountId);
      if (slot.waitMs === null) throw paceExceeded(slot.queuedMs);
      const { waitMs } = slot;
      let due = performance.now() + waitMs;
      // A call sent more than half the allowance after its slot would crowd the
      // next ones: it books another slot and waits for it (three times at most).
      // Checked once the token is read (issuing one can outlast the slot), and
      // again at the wire (a new connection's handshake, a busy process), where
      // it waits on the open connection.
      const onTime = async () => {
        for (let again = 0; performance.now() - due > jitterMs / 2 && again < 3; again++) {
          const later = await book();
          if (later?.waitMs == null) throw paceExceeded(later?.queuedMs ?? null);
          due = performance.now() + later.waitMs;
          if (later.waitMs > 0) await sleep(later.waitMs);
        }
      };
      const [token] = await Promise.all([
        tokens.getValidToken(accountId, { alreadyRead: { stored: slot.stored } }),
        waitMs > 0 ? sleep(waitMs) : undefined,
      ]);
      await onTime();
      return forward(request, access, target, token.accessToken, replayed, waitMs, onTime);
    }
  }

  async function forward(
    request: BrokerCall,
    access: Access,
    target: { path: string; query: string },
    accessToken: string,
    replayed: boolean,
    pacedWaitMs: number,
    onTime: () => Promise<void>,
  ): Promise<Attempt> {
    const { broker, environment, appKey, appSecret } = access.credentials;
    const forwarded = forwardedHeaders(broker, environment, request.header);
    const headers: Record<string, string> = {
      "content-type": "application/json;charset=UTF-8",
      ...callHeaders(broker, forwarded, { appKey, appSecret }),
      authorization: `Bearer ${accessToken}`,
    };
    const record: CallRecord = {
      account_id: request.accountId,
      called_at: new Date(),
      broker,
      environment,
      method: request.method,
      path: target.path,
      transaction_id: transactionId(forwarded),
      status: 0,
      broker_code: null,
      latency_ms: 0,
      key_id: request.keyId ?? null,
      replayed,
    };
    const started = performance.now();
    let raw: RawAnswer | undefined;
    let error: BrokerError | undefined;
    try {
      raw = await send(
        request.method,
        `${brokerSettings.brokers[broker].baseUrls[environment]}${target.path}${target.query ? `?${target.query}` : ""}`,
        request.body,
        headers,
        brokerSettings.timeoutMs,
        onTime,
      );
      record.status = raw.status;
      error = brokers.interpretError(
        broker,
        { status: raw.status, headers: raw.headers, body: parseJson(raw.text) },
        [appKey, appSecret, accessToken],
      );
    } catch (failure) {
      error = brokerUnreachable(broker, failure, brokerSettings.timeoutMs);
    }
    record.latency_ms = Math.round(performance.now() - started);
    record.broker_code = error?.brokerCode ?? null;
    logger.info({ event: "broker_call", ...record }, "broker call");
    recordGatewayCall(metrics, {
      broker,
      status: record.status,
      brokerCode: error?.brokerCode,
      latencyMs: record.latency_ms,
      pacedWaitMs,
      rateLimited: error?.kind === "rate_limited",
    });
    // Written once the answer is on its way (setImmediate), tracked until done.
    const recorded = new Promise((next) => setImmediate(next))
      .then(() => recordCall(sql, record, error !== undefined))
      .catch((failure: unknown) => {
        logger.error(
          { event: "broker_call_not_recorded", err: failure },
          "could not record a broker call",
        );
      })
      .finally(() => recording.delete(recorded));
    recording.add(recorded);
    if (!raw) throw error;
    if (isTokenRejection(error) && !replayed) return { rejectedToken: accessToken };
    const answerHeaders: Record<string, string> = {};
    for (const name of RETURNED_HEADERS) {
      const value = raw.headers.get(name);
      if (value !== null) answerHeaders[name] = value;
    }
    return { answer: { status: raw.status, headers: answerHeaders, body: raw.text } };
  }

  return {
    async call(request) {
      const access = await accessFor(request.accountId);
      // Checked before any slot is taken: a bad path or header is never forwarded and costs nothing.
      const { broker, environment } = access.credentials;
      const target = brokerTarget(broker, request.target);
      forwardedHeaders(broker, environment, request.header);
      const first = await attempt(request, access, target, false);
      if (first.answer) return first.answer;
      // The broker refused the token before acting on the call, so one replay cannot double an order.
      await tokens.invalidate(request.accountId, first.rejectedToken);
      accesses.delete(request.accountId);
      const again = await attempt(request, await accessFor(request.accountId), target, true);
      return again.answer as BrokerCallAnswer;
    },
    settled,
    status: () => settled().then(() => gatewayStatus(sql)),
  };

  async function settled(): Promise<void> {
    while (recording.size > 0) await Promise.all(recording);
  }
}

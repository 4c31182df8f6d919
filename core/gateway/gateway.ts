import { setTimeout as sleep } from "node:timers/promises";
import {
  type AccountBrokerCredentials,
  inactiveAccount,
  loadVersionedBrokerCredentials,
} from "../accounts";
import {
  BROKER_ADAPTERS,
  type BrokerRegistry,
  type BrokerSend,
  type BrokerSettings,
  type DayOrder,
  type DayOrdersFilter,
  isTokenRejection,
  sendOverHttp,
} from "../brokers";
import type { Cipher } from "../crypto";
import type { Sql } from "../db";
import { type Logger, silentLogger } from "../log";
import { type Metrics, noMetrics } from "../metrics";
import {
  createOrderFlow,
  exchangeQuery,
  type OrderResource,
  type OrderSettings,
  readDayOrderPages,
} from "../orders";
import { credentialKey, type TokenService } from "../tokens";
import { type CallRecord, type GatewayStatusReport, gatewayStatus, recordCall } from "./audit";
import { CallPaceExceededError, DayOrdersUnreadableError } from "./errors";
import { type ForwardDependencies, forwardCall } from "./forward";
import {
  type CallLane,
  type CallSlot,
  laneSpacingMs,
  type SlotRequest,
  takeCallSlot,
} from "./pacing";
import { paceRefusalOnly, refusalRecord, refusedExchange } from "./refusal";
import { brokerTarget, forwardedHeaders } from "./request";

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
  /** When the caller stops waiting (API Gateway's 29 s): no broker call, nor reconciliation, outlives it. */
  deadline?: Date | undefined;
}

/** The broker's answer as the caller gets it: status, body and paging headers unchanged. */
export interface BrokerCallAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface BrokerGateway {
  /** Forward one call: token, pacing, token rejection (once), audit; an order path through its intent (core/orders). */
  call(request: BrokerCall): Promise<BrokerCallAnswer>;
  /** An order intent by its Idempotency-Key, reconciled first when its outcome is unknown. */
  order(accountId: number, key: string, deadline?: Date): Promise<OrderResource>;
  /**
   * The account's orders of Korea date `date` (YYYYMMDD) as the broker's
   * day-orders query answers (every page, paced and audited in the query
   * lane like any caller's call): what the hub catches up on fills with.
   * Throws when the day could not be read whole.
   */
  dayOrders(accountId: number, filter: DayOrdersFilter, date: string): Promise<DayOrder[]>;
  /** Reconciles the unknown intents left over (the refresh job's run); how many were resolved. */
  reconcileLeftovers(deadline?: Date): Promise<number>;
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
  /** Idempotency and reconciliation settings (core/orders); the defaults otherwise. */
  orderSettings?: OrderSettings;
}

interface Access {
  credentials: AccountBrokerCredentials;
  updatedAt: Date;
  key: string;
}

export type { CallLane, CallSlot, SlotRequest } from "./pacing";

/**
 * Takes the exchange's first slot in place of broker_call_slot: the order
 * flow's claim, in the same statement (claim_order_slot). It throws to stop
 * the exchange before anything is sent.
 */
export type FirstSlot = (slot: SlotRequest) => Promise<CallSlot | undefined>;

/**
 * One exchange with the broker, its audit row not yet written: the order
 * flow adds the intent's key and state first.
 */
export interface Exchange {
  /** The broker's answer as the caller gets it; undefined when it did not answer. */
  answer: BrokerCallAnswer | undefined;
  /** The answer's classified error, or why there was no answer (a pacing refusal included). */
  error: Error | undefined;
  /** True once the request's bytes may have reached the broker (the connection was open and the write started). */
  written: boolean;
  /** When the request was handed to the connection (the order's send time). */
  sentAt: Date | undefined;
  /** The parsed answer body (undefined when not JSON or absent). */
  body: unknown;
  /** Writes the audit row (off the answer's path), with the order's key and state when given. */
  audit(order?: { key: string; state: string }): void;
}

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
  const forwarding: ForwardDependencies = { brokers, brokerSettings, send, logger, metrics, audit };

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

  /** One exchange, replayed once after a token rejection (it came before the call was routed). */
  async function exchange(
    request: BrokerCall,
    target: { path: string; query: string },
    lane: CallLane,
    firstSlot?: FirstSlot,
  ): Promise<Exchange> {
    const access = await accessFor(request.accountId);
    const first = await attempt(request, access, target, false, lane, firstSlot);
    if (!isTokenRejection(first.error) || !first.token) return first;
    first.audit();
    // The broker refused the token before acting on the call, so one replay cannot double an order.
    await tokens.invalidate(request.accountId, first.token);
    accesses.delete(request.accountId);
    return attempt(request, await accessFor(request.accountId), target, true, lane);
  }

  async function attempt(
    request: BrokerCall,
    first: Access,
    target: { path: string; query: string },
    replayed: boolean,
    lane: CallLane,
    firstSlot?: FirstSlot,
  ): Promise<Exchange & { token?: string }> {
    let access = first;
    const { accountId } = request;
    // The first booking may be the caller's (an order's claim); every later one is plain.
    let pending = firstSlot;
    const book = () => {
      const { broker, environment } = access.credentials;
      const take = pending ?? ((slot: SlotRequest) => takeCallSlot(sql, slot));
      pending = undefined;
      return take({
        key: lane === "order" ? `${access.key}|order` : access.key,
        broker,
        environment,
        accountId,
        spacingMs: laneSpacingMs(brokerSettings, access.credentials, lane),
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
      const refuse = (error: CallPaceExceededError) =>
        refusedExchange(refusalRecord(request, access.credentials, target, replayed), error, {
          logger,
          audit,
        });
      if (slot.waitMs === null) return refuse(paceExceeded(slot.queuedMs));
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
      const late = await onTime().then(() => undefined, paceRefusalOnly);
      if (late) return refuse(late);
      const done = await forwardCall(forwarding, {
        request,
        credentials: access.credentials,
        target,
        accessToken: token.accessToken,
        replayed,
        pacedWaitMs: waitMs,
        onTime,
      });
      return { ...done, token: token.accessToken };
    }
  }

  /** The audit row, written once the answer is on its way (setImmediate), tracked until done. */
  function audit(record: CallRecord, failed: boolean): void {
    const recorded = new Promise((next) => setImmediate(next))
      .then(() => recordCall(sql, record, failed))
      .catch((failure: unknown) => {
        logger.error(
          { event: "broker_call_not_recorded", err: failure },
          "could not record a broker call",
        );
      })
      .finally(() => recording.delete(recorded));
    recording.add(recorded);
  }

  const orders = createOrderFlow({
    sql,
    logger,
    settings: deps.orderSettings,
    desk: (broker) => BROKER_ADAPTERS[broker].orders,
    exchange,
    access: async (accountId) => (await accessFor(accountId)).credentials,
    track: (work) => {
      recording.add(work);
      void work.finally(() => recording.delete(work));
    },
  });

  return {
    async call(request) {
      const access = await accessFor(request.accountId);
      const { broker, environment } = access.credentials;
      // Checked before any slot is taken: a bad path or header is never forwarded and costs nothing.
      const target = brokerTarget(broker, request.target);
      forwardedHeaders(broker, environment, request.header);
      if (request.method === "POST" && BROKER_ADAPTERS[broker].orders.orderPaths.has(target.path)) {
        return orders.place(request, broker, target);
      }
      const done = await exchange(request, target, "query");
      done.audit();
      if (!done.answer) throw done.error;
      return done.answer;
    },
    async dayOrders(accountId, filter, date) {
      const { broker, environment } = (await accessFor(accountId)).credentials;
      const rows = await readDayOrderPages(
        BROKER_ADAPTERS[broker].orders,
        environment,
        filter,
        date,
        async (query) => {
          const { page, done } = await exchangeQuery(exchange, accountId, query);
          done.audit();
          return page;
        },
      );
      if (!rows) throw new DayOrdersUnreadableError(accountId, date);
      return rows;
    },
    order: (accountId, key, deadline) => orders.read(accountId, key, deadline),
    reconcileLeftovers: (deadline) => orders.reconcileLeftovers(deadline),
    settled,
    status: () => settled().then(() => gatewayStatus(sql)),
  };

  async function settled(): Promise<void> {
    while (recording.size > 0) await Promise.all(recording);
  }
}

import type { AccountBrokerCredentials } from "../accounts";
import {
  type Broker,
  type BrokerError,
  isTokenRejection,
  type OrderDesk,
  parseJson,
} from "../brokers";
import type { Sql } from "../db";
import { NotFoundError } from "../errors";
import type {
  BrokerCall,
  BrokerCallAnswer,
  CallLane,
  Exchange,
  FirstSlot,
} from "../gateway/gateway";
import type { Logger } from "../log";
import { exchangeQuery } from "./day-orders";
import {
  IdempotencyKeyReusedError,
  OrderAmbiguousError,
  OrderInFlightError,
  OrderNotPlacedError,
  OrderOutcomeUnknownError,
  OrderReconcilingError,
} from "./errors";
import {
  type Claim,
  claimIntentWithSlot,
  dropExpiredIntents,
  finishIntent,
  type Intent,
  type IntentState,
  readIntent,
  releaseIntent,
  unresolvedIntents,
} from "./intents";
import { idempotencyKey, requestHash } from "./keys";
import { createReconciler } from "./reconcile";
import { DEFAULT_ORDER_SETTINGS, type OrderSettings } from "./settings";

/** GET /accounts/{id}/orders/{key}: an order intent as callers see it. */
export interface OrderResource {
  key: string;
  state: IntentState;
  broker_order_no: string | null;
  /** The broker's answer when it came: its status and body (JSON when it was). */
  answer: { status: number; body: unknown } | null;
  sent_at: string | null;
  resolved_at: string | null;
}

export interface OrderFlowDependencies {
  sql: Sql;
  logger: Logger;
  settings?: OrderSettings | undefined;
  desk(broker: Broker): OrderDesk;
  /** The gateway's exchange: pacing, token (once), send; its audit row left to us. */
  exchange(
    request: BrokerCall,
    target: { path: string; query: string },
    lane: CallLane,
    firstSlot?: FirstSlot,
  ): Promise<Exchange>;
  access(accountId: number): Promise<AccountBrokerCredentials>;
  /** Keeps work done off the answer's path until settled() (a Lambda waits for it). */
  track(work: Promise<void>): void;
}

/** The gateway's order paths: each POST through its intent, and the order resource. */
export interface OrderFlow {
  /** Places an order once per Idempotency-Key: a new key is claimed and sent, a known one answered from its intent. */
  place(
    request: BrokerCall,
    broker: Broker,
    target: { path: string; query: string },
  ): Promise<BrokerCallAnswer>;
  /** The order resource, reconciled once first when its outcome is unknown. */
  read(accountId: number, key: string, deadline?: Date): Promise<OrderResource>;
  /** The refresh job's pass: drops expired keys, reconciles what is left unknown; how many were resolved. */
  reconcileLeftovers(deadline?: Date): Promise<number>;
}

/** Thrown by the first slot when the key was not claimed: nothing was booked or sent. */
const NOT_CLAIMED = new Error("order intent not claimed");

/** Which answers mean the broker may have acted: 5xx after the write, and its own "check the previous transaction". */
function outcomeUnknown(error: BrokerError | undefined, status: number): boolean {
  return error?.codeKind === "outcome_unknown" || (status >= 500 && error?.kind !== "rate_limited");
}

/** Refused before the order was routed: nothing was booked, the key is free again. */
function refusedBeforeRouting(error: BrokerError | undefined): boolean {
  return isTokenRejection(error) || error?.kind === "rate_limited";
}

/** An order path's call: an intent per Idempotency-Key, an honest "unknown", reconciliation. */
export function createOrderFlow(deps: OrderFlowDependencies): OrderFlow {
  const { sql, logger } = deps;
  const settings = deps.settings ?? DEFAULT_ORDER_SETTINGS;
  // Answers recorded off the answer's path, by account and key. An order of the account waits
  // for them first: a retry finds its own answer, and a next order on the same terms does not
  // find the previous one still in flight (409 order_reconciling) because its record was late.
  const finishing = new Map<number, Map<string, Promise<void>>>();
  const reconciler = createReconciler({
    sql,
    logger,
    settings,
    desk: deps.desk,
    access: deps.access,
    async query(intent, query, deadline) {
      const { page, done } = await exchangeQuery(deps.exchange, intent.accountId, query, deadline);
      return { ...page, audit: (state) => done.audit({ key: intent.key, state }) };
    },
  });

  function resource(intent: Intent): OrderResource {
    return {
      key: intent.key,
      state: intent.state,
      broker_order_no: intent.brokerOrderNo,
      answer: intent.answer
        ? {
            status: intent.answer.status,
            body: parseJson(intent.answer.body) ?? intent.answer.body,
          }
        : null,
      sent_at: intent.sentAt?.toISOString() ?? null,
      resolved_at: intent.resolvedAt?.toISOString() ?? null,
    };
  }

  /** What a settled intent answers; `replayed` marks an answer given before. */
  function answerOf(intent: Intent, replayed: boolean, what: string): BrokerCallAnswer {
    const { accountId, key } = intent;
    switch (intent.state) {
      case "in_flight":
        throw new OrderInFlightError(accountId, key);
      case "unknown":
        throw new OrderOutcomeUnknownError(accountId, key, what);
      case "ambiguous":
        throw new OrderAmbiguousError(accountId, key);
      case "not_placed":
        throw new OrderNotPlacedError(accountId, key);
      default: {
        const flag: Record<string, string> = replayed ? { "idempotent-replayed": "true" } : {};
        if (intent.answer) {
          return {
            status: intent.answer.status,
            headers: { ...intent.answer.headers, ...flag },
            body: intent.answer.body,
          };
        }
        // Accepted by reconciliation: the broker's answer was lost, the order resource stands in.
        return {
          status: 200,
          headers: { "content-type": "application/json", ...flag },
          body: JSON.stringify(resource(intent)),
        };
      }
    }
  }

  async function place(
    request: BrokerCall,
    broker: Broker,
    target: { path: string; query: string },
    again = false,
  ): Promise<BrokerCallAnswer> {
    const key = idempotencyKey(request.header("idempotency-key"));
    const { accountId } = request;
    const transaction = request.header("tr_id") ?? request.header("api-id");
    const terms = deps.desk(broker).orderTerms(transaction, parseJson(request.body ?? ""));
    await Promise.all(finishing.get(accountId)?.values() ?? []);
    const hash = requestHash({
      method: request.method,
      ...target,
      transactionId: transaction,
      body: request.body,
    });
    // The claim and the order's first slot in one statement; the exchange stops there unless claimed.
    let claim: Claim | undefined;
    const claimThenSlot: FirstSlot = async (slot) => {
      const claimed = await claimIntentWithSlot(
        sql,
        { accountId, key, hash, terms, keepMs: settings.keepMs, staleMs: settings.staleMs },
        slot,
      );
      claim = claimed.claim;
      if (claim.outcome !== "claimed") throw NOT_CLAIMED;
      return claimed.slot;
    };
    let done: Exchange;
    try {
      done = await deps.exchange(request, target, "order", claimThenSlot);
    } catch (error) {
      // Claimed, then nothing left (pacing, the account, the token): the key is free again.
      if (claim?.outcome === "claimed") await releaseIntent(sql, accountId, key);
      if (error !== NOT_CLAIMED || !claim) throw error;
      return answerExisting(request, broker, target, key, hash, claim, again);
    }
    return conclude(request, key, done);
  }

  /** The key was not claimed: another intent holds the terms, or this key's earlier request answers. */
  async function answerExisting(
    request: BrokerCall,
    broker: Broker,
    target: { path: string; query: string },
    key: string,
    hash: string,
    claim: Claim,
    again: boolean,
  ): Promise<BrokerCallAnswer> {
    const { accountId } = request;
    if (claim.outcome !== "existing") throw new OrderReconcilingError(accountId, key);
    const { intent } = claim;
    if (intent.requestHash !== hash) throw new IdempotencyKeyReusedError(accountId, key);
    if (intent.state !== "unknown") return answerOf(intent, true, "an earlier attempt");
    const settled = await reconciler.settle(intent, request.deadline);
    // Not placed after all: this retry with the same key sends it (once).
    if (settled.state === "not_placed" && !again) return place(request, broker, target, true);
    return answerOf(settled, true, "an earlier attempt");
  }

  async function conclude(
    request: BrokerCall,
    key: string,
    done: Exchange,
  ): Promise<BrokerCallAnswer> {
    const { accountId } = request;
    const error = done.error as BrokerError | undefined;
    const { answer } = done;
    if (!answer && !done.written) {
      await releaseIntent(sql, accountId, key);
      done.audit({ key, state: "released" });
      throw done.error;
    }
    if (answer && refusedBeforeRouting(error)) {
      await releaseIntent(sql, accountId, key);
      done.audit({ key, state: "released" });
      return answer;
    }
    if (answer && !outcomeUnknown(error, answer.status)) {
      const state: IntentState = error ? "rejected" : "accepted";
      const desk = deps.desk((await deps.access(accountId)).broker);
      // Written off the answer's path (one round trip fewer): until it commits the intent
      // reads as in flight (409 order_in_flight, Retry-After), and if this process dies
      // first it goes stale, becomes unknown and is reconciled. Never a second order.
      const outcome = {
        state,
        answer,
        brokerOrderNo: error ? null : (desk.orderNumber(done.body) ?? null),
        sentAt: done.sentAt,
      };
      // Started once the answer is on its way (as the audit row is).
      const finished = new Promise((next) => setImmediate(next))
        .then(() => finishIntent(sql, accountId, key, outcome))
        .catch((failure: unknown) => {
          logger.error(
            { event: "order_intent_not_finished", account_id: accountId, err: failure },
            "could not record an order's answer; it will be reconciled",
          );
        })
        .finally(() => {
          const account = finishing.get(accountId);
          account?.delete(key);
          if (account?.size === 0) finishing.delete(accountId);
        });
      const account = finishing.get(accountId) ?? new Map<string, Promise<void>>();
      finishing.set(accountId, account.set(key, finished));
      deps.track(finished);
      done.audit({ key, state });
      return answer;
    }
    // Written, and no usable answer: it may have been placed. Never "try again".
    const what = answer
      ? `HTTP ${answer.status}${error?.brokerCode ? ` ${error.brokerCode}` : ""}`
      : (error?.message.replace(/\.$/, "") ?? "no answer");
    done.audit({ key, state: "unknown" });
    logger.warn(
      { event: "order_outcome_unknown", account_id: accountId, what },
      "order outcome unknown",
    );
    let settled: Intent | undefined;
    try {
      await finishIntent(sql, accountId, key, {
        state: "unknown",
        answer: null,
        brokerOrderNo: null,
        sentAt: done.sentAt,
      });
      const intent = await readIntent(sql, accountId, key);
      if (intent) settled = await reconciler.settle(intent, request.deadline);
    } catch (failure) {
      // The database or the broker failed us now: still never "try again" (the
      // intent stays in flight, goes stale and is reconciled; the same key waits for it).
      logger.error(
        { event: "order_unknown_not_reconciled", account_id: accountId, err: failure },
        "could not record or reconcile an unknown order",
      );
    }
    if (!settled) throw new OrderOutcomeUnknownError(accountId, key, what);
    return answerOf(settled, false, what);
  }

  return {
    place: (request: BrokerCall, broker: Broker, target: { path: string; query: string }) =>
      place(request, broker, target),

    /** The order resource, reconciled once first when its outcome is unknown. */
    async read(accountId: number, key: string, deadline?: Date): Promise<OrderResource> {
      let intent = await readIntent(sql, accountId, idempotencyKey(key));
      if (!intent) {
        throw new NotFoundError(
          "order_not_found",
          `Account ${accountId} has no order with this Idempotency-Key.`,
        );
      }
      if (intent.state === "unknown") {
        await reconciler.once(intent, deadline);
        intent = (await readIntent(sql, accountId, key)) ?? intent;
      }
      return resource(intent);
    },

    /** The refresh job's pass: drop expired keys, reconcile what is left unknown. */
    async reconcileLeftovers(deadline?: Date): Promise<number> {
      await dropExpiredIntents(sql);
      let resolved = 0;
      for (const intent of await unresolvedIntents(sql, settings.staleMs, 100)) {
        if (deadline && Date.now() > deadline.getTime() - 2_000) break;
        try {
          if ((await reconciler.once(intent, deadline)) !== "unknown") resolved += 1;
        } catch (error) {
          logger.error(
            { event: "order_reconcile_failed", account_id: intent.accountId, err: error },
            "could not reconcile an order",
          );
        }
      }
      return resolved;
    },
  };
}

import type { Sql } from "postgres";
import type { Logger } from "../log";

/**
 * How the API's pool behaves in a database outage: it answers at once
 * instead of queueing. postgres.js holds a query until a connection can take
 * it, and while the database is down each connection retries once per
 * backoff and fails only the one query it carries: under 20 requests/s the
 * queue grew and answers took 5 s, then 14 s (issue 22).
 */
export interface FailFastOptions {
  /**
   * How long a query may wait to be sent on a connection before the
   * database counts as down (ms). Above a normal connect (TLS, IAM token),
   * below the API's 1 s answer goal for an outage.
   */
  connectionWaitMs?: number;
  /** How often a probe checks, in the background, a database seen down (ms). */
  probeIntervalMs?: number;
  logger?: Logger;
}

export const DEFAULT_CONNECTION_WAIT_MS = 750;
export const DEFAULT_PROBE_INTERVAL_MS = 250;

/** Raised instead of waiting: the database is down, or a query found no connection in time. */
export class DatabaseUnavailableError extends Error {
  readonly code = "DATABASE_UNAVAILABLE";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DatabaseUnavailableError";
  }
}

/**
 * Codes that mean the database cannot be reached (connection refused or
 * timed out, the server shutting down or starting up), as opposed to one
 * connection dropped or a statement refused. 53300 (too many connections)
 * is unreachable for the caller but does not trip the breaker: the
 * connections already open still work.
 */
const DOWN_CODES = new Set([
  "DATABASE_UNAVAILABLE",
  "ECONNREFUSED",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "CONNECT_TIMEOUT",
  "57P01",
  "57P02",
  "57P03",
]);
const UNREACHABLE_CODES = new Set([
  ...DOWN_CODES,
  "ECONNRESET",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "53300",
]);

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** Whether an error means the database could not be reached (the API answers these 503). */
export function isDatabaseUnreachable(error: unknown): boolean {
  const code = codeOf(error);
  return code !== undefined && UNREACHABLE_CODES.has(code);
}

/** A breaker's view of the database, shared by the pool's backoff and the guard. */
export interface Availability {
  readonly down: boolean;
}

/**
 * What of a postgres.js query the guard touches. Not in its types: a query
 * runs when it calls `handler(query)` (the pool's), `state` is set once it
 * is written to a connection, and `reject` settles the caller's promise.
 */
interface PendingQuery extends Promise<unknown> {
  handler: (query: PendingQuery) => void;
  state: unknown;
  reject: (error: unknown) => void;
}

function isPendingQuery(value: unknown): value is PendingQuery {
  return value instanceof Promise && typeof (value as { handler?: unknown }).handler === "function";
}

/**
 * Wraps the pool: a circuit breaker in front of postgres.js. Once the
 * database is seen down (a connection refused or timed out, the server
 * shutting down, or a query not sent within `connectionWaitMs`), every
 * query, transaction and reservation fails at once with
 * DatabaseUnavailableError, and a probe (`SELECT 1`) every
 * `probeIntervalMs` finds the moment it is back.
 *
 * A query that waited too long is answered, not cancelled: postgres.js
 * strands a connection whose first query is cancelled while it connects.
 * It stays queued and runs, or fails, when its connection opens; a
 * transaction given up on this way never runs its body (it rolls back).
 */
export function guardAvailability(
  sql: Sql,
  options: FailFastOptions = {},
): { sql: Sql; availability: Availability } {
  const waitMs = options.connectionWaitMs ?? DEFAULT_CONNECTION_WAIT_MS;
  const probeMs = options.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS;
  const logger = options.logger;
  let downSince: number | undefined;
  const availability = {
    get down() {
      return downSince !== undefined;
    },
  };

  function unavailable(): DatabaseUnavailableError {
    return new DatabaseUnavailableError(
      "The database is unreachable; failing fast until it is back.",
    );
  }

  function markDown(reason: string): void {
    if (downSince !== undefined) return;
    downSince = performance.now();
    logger?.warn(
      { event: "database_down", reason },
      "database unreachable: answering at once until a probe reaches it",
    );
    void probeUntilUp();
  }

  async function probeUntilUp(): Promise<void> {
    while (downSince !== undefined) {
      await new Promise((resolve) => setTimeout(resolve, probeMs).unref?.());
      const answered = sql`SELECT 1`.then(
        () => "up" as const,
        // The pool was closed (sql.end): nothing is left to probe for.
        (error: unknown) => (codeOf(error) === "CONNECTION_ENDED" ? "ended" : "down"),
      );
      let outcome = await Promise.race([
        answered,
        new Promise<"slow">((resolve) => setTimeout(resolve, waitMs, "slow").unref?.()),
      ]);
      // A probe that outlived its wait is left to settle before the next one.
      if (outcome === "slow") outcome = (await answered) === "ended" ? "ended" : "down";
      if (outcome === "ended") return;
      if (outcome === "up") {
        logger?.info(
          { event: "database_up", down_ms: Math.round(performance.now() - downSince) },
          "database reachable again",
        );
        downSince = undefined;
      }
    }
  }

  function observe(outcome: Promise<unknown>): void {
    outcome.then(undefined, (error: unknown) => {
      const code = codeOf(error);
      if (code !== undefined && DOWN_CODES.has(code) && code !== "DATABASE_UNAVAILABLE") {
        markDown(code);
      }
    });
  }

  function admit(query: PendingQuery, run: (query: PendingQuery) => void): void {
    if (downSince !== undefined) {
      query.reject(unavailable());
      return;
    }
    run(query);
    const timer = setTimeout(() => {
      if (query.state) return; // written to a connection: the database is answering it
      markDown(`no connection within ${waitMs} ms`);
      query.reject(
        new DatabaseUnavailableError(
          `No database connection within ${waitMs} ms; it is unreachable.`,
        ),
      );
    }, waitMs);
    timer.unref?.();
    const settled = () => clearTimeout(timer);
    query.then(settled, settled);
    observe(query);
  }

  function guardQuery<T>(result: T): T {
    if (isPendingQuery(result)) {
      const run = result.handler;
      result.handler = (query) => admit(query, run);
    }
    return result;
  }

  const begin = (async (...args: unknown[]) => {
    if (downSince !== undefined) throw unavailable();
    const fn = args[args.length - 1] as (tx: unknown) => unknown;
    let started = false;
    let abandoned = false;
    const guarded = (tx: unknown) => {
      if (abandoned) throw unavailable();
      started = true;
      return fn(tx);
    };
    const transaction = (sql.begin as (...a: unknown[]) => Promise<unknown>)(
      ...args.slice(0, -1),
      guarded,
    );
    observe(transaction);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tooLate = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        if (started) return;
        abandoned = true;
        markDown(`no connection within ${waitMs} ms`);
        reject(new DatabaseUnavailableError(`No database connection within ${waitMs} ms.`));
      }, waitMs);
      timer.unref?.();
    });
    try {
      return await Promise.race([transaction, tooLate]);
    } finally {
      clearTimeout(timer);
      // Given up on: its rollback (or failure) comes later and is nobody's answer.
      transaction.catch((error: unknown) => {
        logger?.debug(
          { event: "abandoned_transaction_ended", err: error },
          "a transaction given up on ended",
        );
      });
    }
  }) as Sql["begin"];

  const reserve = (async () => {
    if (downSince !== undefined) throw unavailable();
    const reserving = sql.reserve();
    observe(reserving);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tooLate = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        markDown(`no connection within ${waitMs} ms`);
        // Released as soon as it comes, since no one holds it.
        reserving.then(
          (reserved) => reserved.release(),
          () => undefined,
        );
        reject(new DatabaseUnavailableError(`No database connection within ${waitMs} ms.`));
      }, waitMs);
      timer.unref?.();
    });
    try {
      return await Promise.race([reserving, tooLate]);
    } finally {
      clearTimeout(timer);
    }
  }) as Sql["reserve"];

  const guarded = new Proxy(sql, {
    apply: (target, self, args) => guardQuery(Reflect.apply(target, self, args)),
    get: (target, property, receiver) => {
      if (property === "begin") return begin;
      if (property === "reserve") return reserve;
      if (property === "unsafe") {
        return (...args: Parameters<Sql["unsafe"]>) => guardQuery(target.unsafe(...args));
      }
      return Reflect.get(target, property, receiver);
    },
  });
  return { sql: guarded, availability };
}

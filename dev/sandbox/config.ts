import { readNumberSetting } from "../../core/config/settings";
import { SANDBOX_CODES } from "./codes";
import { ORDER_FAULT_KINDS, type OrderFaultKind } from "./orders";

/** What an injected fault does to a token request. */
export type SandboxFaultKind =
  /** Hold the request without answering (past any client timeout), then drop the connection. */
  | "timeout"
  /** Answer 5xx with a body that is not the broker's (like a gateway in trouble). */
  | "server_error"
  /** Answer the broker's rate-limit error (KIS EGW00133 / Kiwoom 1700 in its three shapes). */
  | "rate_limit";

export const FAULT_KINDS: readonly SandboxFaultKind[] = ["timeout", "server_error", "rate_limit"];

/** Behaviour that can change while the sandbox runs (configure(), POST /_sandbox/config). */
export interface SandboxConfig {
  /** Added before every broker answer (not the /_sandbox endpoints). Default 0. */
  latencyMs: number;
  /** Probability 0..1 that a token request (issue or revoke) fails with one of `errorKinds`, drawn from the seeded random. Default 0. */
  errorRate: number;
  /** The faults `errorRate` chooses from, evenly. Default ["server_error", "rate_limit"]. */
  errorKinds: SandboxFaultKind[];
  /** Deterministic faults: the next token requests fail with these, in order, before `errorRate` applies. Default []. */
  failNext: SandboxFaultKind[];
  /** How long a "timeout" fault holds a request before dropping it. Default 120000. */
  hangMs: number;
  /** HTTP status of KIS token errors (EGW00121/122/123) on the protected endpoint: both are seen live. Default 500. */
  kisTokenErrorStatus: 200 | 500;
  /** Added to KIS `expires_in` so tests can prove access_token_token_expired wins. Default 0. */
  kisExpiresInSkewSeconds: number;
  /** Kiwoom publishes no issue limit; the sandbox refuses (1700, HTTP 429) a second issue per app key within this. 0 turns it off. Default 1000. */
  kiwoomIssueIntervalMs: number;
  /** HTTP status of Kiwoom's errors other than rate limits (429): both 200 and non-2xx must be read. Default 200. */
  kiwoomErrorStatus: number;
  /**
   * Broker codes (8006, EGW00207, …): the next requests to that broker's
   * endpoints (any endpoint) are answered with them, in order, in the
   * broker's real shape. A KIS code waits for a KIS request and a Kiwoom code
   * for a Kiwoom request. Default [].
   */
  failNextCodes: string[];
  /** Client IPs registered for KIS app keys; a request from any other gets EGW00207. Empty: every IP is allowed. Default []. */
  kisRegisteredIps: string[];
  /**
   * Calls (not token requests) each app key may make in any 1000 ms (a sliding
   * window, the strictest reading of "per second"), per broker and
   * environment; more get KIS EGW00201 or Kiwoom HTTP 429 [1700:…]. 0 turns
   * a limit off. Default: the figures clients use, KIS 20 real / 2 paper,
   * Kiwoom 5 real / 1 mock.
   */
  callsPerSecond: Record<"KIS" | "KIWOOM", Record<"real" | "paper", number>>;
  /**
   * Order fault switches by "<BROKER> <order path>" (e.g. "KIS
   * /uapi/domestic-stock/v1/trading/order-cash", "KIWOOM /api/dostk/ordr"):
   * the next orders on that path meet these faults, in order. Default {}.
   */
  orderFaults: Record<string, OrderFaultKind[]>;
  /** Per "<BROKER> <order path>": the probability 0..1 of each fault on any order there (seeded random). Default {}. */
  orderFaultRates: Record<string, Partial<Record<OrderFaultKind, number>>>;
  /** Rows per page of the day-order queries (KIS inquire-daily-ccld, Kiwoom kt00007). Default 100. */
  dayOrdersPageSize: number;
  /**
   * Recorded answers (test/fixtures/brokers): the next request to that
   * broker and path (after the environment, `/oauth2/tokenP`) is answered
   * with this status and body, once, in order, in place of the sandbox's
   * own answer. For behaviour seen live that the model does not produce.
   * Default [].
   */
  answerNext: RecordedAnswer[];
}

/** One recorded answer queued with `answerNext`. */
export interface RecordedAnswer {
  broker: "KIS" | "KIWOOM";
  path: string;
  status: number;
  body: unknown;
}

export const DEFAULT_SANDBOX_CONFIG: SandboxConfig = {
  latencyMs: 0,
  errorRate: 0,
  errorKinds: ["server_error", "rate_limit"],
  failNext: [],
  hangMs: 120_000,
  kisTokenErrorStatus: 500,
  kisExpiresInSkewSeconds: 0,
  kiwoomIssueIntervalMs: 1_000,
  kiwoomErrorStatus: 200,
  failNextCodes: [],
  kisRegisteredIps: [],
  callsPerSecond: { KIS: { real: 20, paper: 2 }, KIWOOM: { real: 5, paper: 1 } },
  orderFaults: {},
  orderFaultRates: {},
  dayOrdersPageSize: 100,
  answerNext: [],
};

/** Merge a partial change into a config, validating every field; throws one sentence naming the field. */
export function applyConfigChange(current: SandboxConfig, change: unknown): SandboxConfig {
  if (typeof change !== "object" || change === null || Array.isArray(change)) {
    throw new Error("The sandbox config change must be a JSON object.");
  }
  const next: SandboxConfig = {
    ...current,
    failNext: [...current.failNext],
    failNextCodes: [...current.failNextCodes],
    answerNext: [...current.answerNext],
    callsPerSecond: structuredClone(current.callsPerSecond),
    orderFaults: structuredClone(current.orderFaults),
    orderFaultRates: structuredClone(current.orderFaultRates),
  };
  for (const [field, value] of Object.entries(change)) {
    switch (field) {
      case "latencyMs":
      case "hangMs":
      case "kiwoomIssueIntervalMs":
      case "kisExpiresInSkewSeconds":
        if (
          typeof value !== "number" ||
          !Number.isFinite(value) ||
          (field !== "kisExpiresInSkewSeconds" && value < 0)
        ) {
          throw new Error(
            `${field} must be a number${field === "kisExpiresInSkewSeconds" ? "" : " of at least 0"}.`,
          );
        }
        next[field] = value;
        break;
      case "errorRate":
        if (typeof value !== "number" || !(value >= 0 && value <= 1)) {
          throw new Error("errorRate must be a number from 0 to 1.");
        }
        next.errorRate = value;
        break;
      case "errorKinds":
      case "failNext":
        if (!Array.isArray(value) || !value.every((kind) => FAULT_KINDS.includes(kind))) {
          throw new Error(`${field} must be a list of ${FAULT_KINDS.join(", ")}.`);
        }
        if (field === "errorKinds" && value.length === 0) {
          throw new Error("errorKinds must name at least one fault.");
        }
        next[field] = [...value];
        break;
      case "failNextCodes":
        if (!Array.isArray(value) || !value.every((code) => SANDBOX_CODES.has(code))) {
          throw new Error(
            `failNextCodes must be a list of codes among ${[...SANDBOX_CODES].join(", ")}.`,
          );
        }
        next.failNextCodes = [...value];
        break;
      case "kisRegisteredIps":
        if (!Array.isArray(value) || !value.every((ip) => typeof ip === "string" && ip !== "")) {
          throw new Error("kisRegisteredIps must be a list of IP addresses.");
        }
        next.kisRegisteredIps = [...value];
        break;
      case "kiwoomErrorStatus":
        if (!Number.isInteger(value) || (value as number) < 200 || (value as number) > 599) {
          throw new Error("kiwoomErrorStatus must be an HTTP status from 200 to 599.");
        }
        next.kiwoomErrorStatus = value as number;
        break;
      case "kisTokenErrorStatus":
        if (value !== 200 && value !== 500)
          throw new Error("kisTokenErrorStatus must be 200 or 500.");
        next.kisTokenErrorStatus = value;
        break;
      case "callsPerSecond":
        next.callsPerSecond = callLimits(next.callsPerSecond, value);
        break;
      case "orderFaults":
        next.orderFaults = orderFaults(value);
        break;
      case "orderFaultRates":
        next.orderFaultRates = orderFaultRates(value);
        break;
      case "dayOrdersPageSize":
        if (!Number.isInteger(value) || (value as number) < 1) {
          throw new Error("dayOrdersPageSize must be a whole number of at least 1.");
        }
        next.dayOrdersPageSize = value as number;
        break;
      case "answerNext":
        if (!Array.isArray(value) || !value.every(isRecordedAnswer)) {
          throw new Error(
            'answerNext must be a list of {"broker": "KIS" or "KIWOOM", "path": "/…", "status": 200-599, "body": …}.',
          );
        }
        next.answerNext = value.map((answer) => ({ ...answer }));
        break;
      default:
        throw new Error(`${field} is not a sandbox setting.`);
    }
  }
  return next;
}

function isRecordedAnswer(value: unknown): value is RecordedAnswer {
  const answer = value as Partial<RecordedAnswer> | null;
  return (
    typeof answer === "object" &&
    answer !== null &&
    (answer.broker === "KIS" || answer.broker === "KIWOOM") &&
    typeof answer.path === "string" &&
    answer.path.startsWith("/") &&
    Number.isInteger(answer.status) &&
    (answer.status as number) >= 200 &&
    (answer.status as number) <= 599 &&
    "body" in answer
  );
}

/** Merges `{"KIS": {"paper": 5}}`-shaped changes into the call limits. */
function callLimits(
  current: SandboxConfig["callsPerSecond"],
  change: unknown,
): SandboxConfig["callsPerSecond"] {
  const rule =
    'callsPerSecond must look like {"KIS": {"real": 20, "paper": 2}, "KIWOOM": {…}} with whole numbers of at least 0.';
  if (typeof change !== "object" || change === null || Array.isArray(change)) throw new Error(rule);
  const next = structuredClone(current);
  for (const [broker, limits] of Object.entries(change)) {
    if (
      (broker !== "KIS" && broker !== "KIWOOM") ||
      typeof limits !== "object" ||
      limits === null
    ) {
      throw new Error(rule);
    }
    for (const [environment, limit] of Object.entries(limits)) {
      if (
        (environment !== "real" && environment !== "paper") ||
        !Number.isInteger(limit) ||
        (limit as number) < 0
      ) {
        throw new Error(rule);
      }
      next[broker][environment] = limit as number;
    }
  }
  return next;
}

const ORDER_PATH_KEY = /^(KIS|KIWOOM) \/[\w/-]+$/;

/** `{"KIS /uapi/…/order-cash": ["accept_then_reset"]}`, checked. */
function orderFaults(change: unknown): Record<string, OrderFaultKind[]> {
  const rule = `orderFaults must look like {"KIS /uapi/domestic-stock/v1/trading/order-cash": [kinds]} with kinds among ${ORDER_FAULT_KINDS.join(", ")}.`;
  if (typeof change !== "object" || change === null || Array.isArray(change)) throw new Error(rule);
  const next: Record<string, OrderFaultKind[]> = {};
  for (const [path, kinds] of Object.entries(change)) {
    if (!ORDER_PATH_KEY.test(path) || !Array.isArray(kinds)) throw new Error(rule);
    if (!kinds.every((kind) => ORDER_FAULT_KINDS.includes(kind))) throw new Error(rule);
    next[path] = [...kinds];
  }
  return next;
}

/** `{"KIS /uapi/…/order-cash": {"accept_then_reset": 0.2}}`, checked; the rates of one path add up to at most 1. */
function orderFaultRates(change: unknown): Record<string, Partial<Record<OrderFaultKind, number>>> {
  const rule = `orderFaultRates must look like {"KIS /uapi/domestic-stock/v1/trading/order-cash": {"accept_then_reset": 0.2}} with kinds among ${ORDER_FAULT_KINDS.join(", ")} and rates adding up to at most 1.`;
  if (typeof change !== "object" || change === null || Array.isArray(change)) throw new Error(rule);
  const next: Record<string, Partial<Record<OrderFaultKind, number>>> = {};
  for (const [path, rates] of Object.entries(change)) {
    if (!ORDER_PATH_KEY.test(path) || typeof rates !== "object" || rates === null) {
      throw new Error(rule);
    }
    let sum = 0;
    for (const [kind, rate] of Object.entries(rates)) {
      if (!ORDER_FAULT_KINDS.includes(kind as OrderFaultKind) || typeof rate !== "number") {
        throw new Error(rule);
      }
      if (!(rate >= 0)) throw new Error(rule);
      sum += rate;
    }
    if (sum > 1) throw new Error(rule);
    next[path] = { ...(rates as Partial<Record<OrderFaultKind, number>>) };
  }
  return next;
}

/** A small seeded generator (mulberry32) so a fault pattern repeats run after run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * SANDBOX_LATENCY_MS and SANDBOX_ERROR_RATE, read the same way by
 * `npm run sandbox` and `npm start` (declared in core/config/settings.ts);
 * throws one sentence naming a bad one.
 */
export function parseSandboxSettings(
  env: Record<string, string | undefined>,
): Pick<SandboxConfig, "latencyMs" | "errorRate"> {
  return {
    latencyMs: readNumberSetting(env, "SANDBOX_LATENCY_MS"),
    errorRate: readNumberSetting(env, "SANDBOX_ERROR_RATE"),
  };
}

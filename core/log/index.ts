/**
 * Structured JSON logs, one object per line, with secrets redacted by key.
 *
 * Written here rather than taken from pino: we use only its leveled JSON
 * lines, which take a few dozen lines and no dependency. The line shape is
 * pino's (level label, time, msg, bindings), so pino-pretty renders it for
 * humans (`npm start` in a terminal).
 *
 * Keys are snake_case, like the wire and the SQL, so one CloudWatch Logs
 * Insights query finds them all.
 */
import { AsyncLocalStorage } from "node:async_hooks";

/** Every level a logger accepts, lowest first: the one list LOG_LEVEL settings are checked against. */
export const LOG_LEVELS = ["debug", "info", "warn", "error", "silent"] as const;

export type LogLevel = (typeof LOG_LEVELS)[number];

type LogMethod = (objectOrMessage: object | string, message?: string) => void;

export interface Logger {
  readonly level: LogLevel;
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
  /** A logger whose lines also carry `bindings`. */
  child(bindings: Record<string, unknown>): Logger;
}

/** Where lines go: anything with a `write(line)` (a stream, a test buffer). */
export interface LogDestination {
  write(line: string): unknown;
}

export interface LoggerOptions {
  level?: string | undefined;
  /** Standard output when omitted. */
  destination?: LogDestination;
  /** Bound to every line (service, function name, …). */
  base?: Record<string, unknown>;
}

/**
 * Fields of the invocation or request under way (`request_id`, `cold_start`),
 * added to every line written inside it by any logger, so code deep in core
 * needs no logger handed down per request.
 */
const context = new AsyncLocalStorage<Record<string, unknown>>();

/** Runs `fn` with `fields` on every log line it writes (nested calls add to the outer fields). */
export function withLogContext<T>(fields: Record<string, unknown>, fn: () => T): T {
  return context.run({ ...context.getStore(), ...fields }, fn);
}

/**
 * Whether this is a container's first invocation, for the `cold_start` field:
 * true once, then false. Call it once per invocation.
 */
export function coldStartTracker(): () => boolean {
  let cold = true;
  return () => {
    const first = cold;
    cold = false;
    return first;
  };
}

const RANK: Record<LogLevel, number> = { debug: 20, info: 30, warn: 40, error: 50, silent: 100 };

/**
 * Keys whose values are never written, at any depth. A second line of
 * defence: code must not log secrets in the first place.
 */
export const REDACTED_KEYS = new Set(
  [
    "access_token",
    "accessToken",
    "token",
    "api_key",
    "apiKey",
    "api_secret",
    "apiSecret",
    "appkey",
    "appsecret",
    "secretkey",
    "app_key",
    "app_secret",
    "appKey",
    "appSecret",
    "cert_password",
    "password",
    "authorization",
    "plaintext",
    "securities_config",
    "secret",
  ].map((key) => key.toLowerCase()),
);

const CENSOR = "[redacted]";

/** Creates a logger; an unknown level name is refused with a sentence naming it. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = (options.level?.trim().toLowerCase() || "info") as LogLevel;
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new Error(`LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}; got "${options.level}"`);
  }
  const destination = options.destination ?? process.stdout;
  return makeLogger(level, destination, options.base ?? { service: "securities-support" });
}

function makeLogger(
  level: LogLevel,
  destination: LogDestination,
  bindings: Record<string, unknown>,
): Logger {
  const threshold = RANK[level];
  const method =
    (name: Exclude<LogLevel, "silent">): LogMethod =>
    (objectOrMessage, message) => {
      if (RANK[name] < threshold) return;
      const fields = typeof objectOrMessage === "string" ? {} : objectOrMessage;
      const msg = typeof objectOrMessage === "string" ? objectOrMessage : message;
      const line = {
        level: name,
        time: new Date().toISOString(),
        ...bindings,
        ...context.getStore(),
        ...fields,
        msg,
      };
      destination.write(`${safeStringify(line)}\n`);
    };
  return {
    level,
    debug: method("debug"),
    info: method("info"),
    warn: method("warn"),
    error: method("error"),
    child: (more) => makeLogger(level, destination, { ...bindings, ...more }),
  };
}

/**
 * JSON with redacted keys and cycles cut. An error is written as its type,
 * message, code and stack only: never its other properties, which may carry
 * query parameters or request bodies; callers log `{ err: error }` as it is.
 */
function safeStringify(value: unknown): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(value, function replacer(key, current: unknown) {
    if (key && REDACTED_KEYS.has(key.toLowerCase()) && current !== undefined && current !== null) {
      return CENSOR;
    }
    if (current instanceof Error) {
      return {
        type: current.name,
        message: current.message,
        ...("code" in current ? { code: (current as { code: unknown }).code } : {}),
        stack: current.stack,
      };
    }
    if (typeof current === "bigint") return current.toString();
    if (current && typeof current === "object") {
      if (seen.has(current)) return "[circular]";
      seen.add(current);
    }
    return current;
  });
}

/** A logger that writes nothing, for code paths where the caller gave none. */
export const silentLogger: Logger = makeLogger("silent", { write: () => true }, {});

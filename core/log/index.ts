import pino, { type Logger } from "pino";

export type { Logger } from "pino";

/**
 * Paths whose values are never written, wherever they appear in a log object.
 * A second line of defence: code must not log secrets in the first place.
 */
export const REDACTED_PATHS = [
  "*.access_token",
  "*.accessToken",
  "*.token",
  "*.api_key",
  "*.apiKey",
  "*.api_secret",
  "*.apiSecret",
  "*.appkey",
  "*.appsecret",
  "*.secretkey",
  "*.app_key",
  "*.app_secret",
  "*.cert_password",
  "*.password",
  "*.authorization",
  "*.Authorization",
  "*.plaintext",
  "*.securities_config",
  "headers.authorization",
  "req.headers.authorization",
];

export interface LoggerOptions {
  level?: string;
  /** Where lines go; standard output when omitted. */
  destination?: pino.DestinationStream;
  /** Bound to every line (function name, stage, …). */
  base?: Record<string, unknown>;
}

/** Structured JSON logger with secrets redacted. */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? "info",
      base: options.base ?? { service: "securities-support" },
      redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination,
  );
}

/** A logger that writes nothing, for code paths where the caller gave none. */
export const silentLogger: Logger = pino({ level: "silent" });

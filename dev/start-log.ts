/**
 * What `npm start` shows of the service's log lines. The service logs as in
 * AWS (an audit line per token read, per broker call, per issue…); on a
 * developer's console, LOG_LEVEL=info shows one line per request and per
 * refresh run (plus warnings, errors and start-up notes), and LOG_LEVEL=debug
 * shows every line with its details. In a terminal the lines are
 * pino-pretty's, one per line; otherwise the JSON lines themselves.
 */
import pretty from "pino-pretty";
import type { LogDestination } from "../core/log";

/** The events that are their own summary: shown at info. */
const SUMMARY_EVENTS = new Set(["request", "refresh_run"]);

interface LogLine {
  level?: string;
  time?: string;
  msg?: string;
  event?: string;
  [field: string]: unknown;
}

/** One line a person reads: what happened, without the JSON around it. */
export function summarize(line: LogLine): string | undefined {
  if (line.event === "request") {
    const who = line.key_id ? ` by ${line.key_id}` : "";
    return `${line.method} ${line.path} → ${line.status} in ${line.duration_ms} ms${who}`;
  }
  if (line.event === "refresh_run") {
    const parts = [`${line.due} due`, `${line.issued} issued`];
    for (const name of ["reused", "deferred", "failed", "not_started"] as const) {
      if (typeof line[name] === "number" && line[name] > 0)
        parts.push(`${line[name]} ${name.replace("_", " ")}`);
    }
    if (typeof line.approval_keys_due === "number" && line.approval_keys_due > 0) {
      parts.push(`websocket keys ${line.approval_keys_issued}/${line.approval_keys_due} issued`);
    }
    return `refresh run: ${parts.join(", ")} in ${line.duration_ms} ms`;
  }
  return undefined;
}

/**
 * Whether npm start shows a line at `level`: warnings and errors always,
 * info lines that summarise (requests, refresh runs) or carry no event
 * (start-up notes); the rest, detail, only at debug.
 */
export function shownAt(level: string, line: LogLine): boolean {
  if (level === "debug") return true;
  if (line.level !== "info" && line.level !== "debug") return true;
  return line.level === "info" && (!line.event || SUMMARY_EVENTS.has(line.event));
}

/** The destination npm start's logger writes to. */
export function startLogDestination(options: {
  level: string;
  tty: boolean;
  out?: LogDestination;
}): LogDestination {
  const out: LogDestination =
    options.out ??
    (options.tty
      ? pretty({
          colorize: true,
          singleLine: true,
          translateTime: "SYS:HH:MM:ss",
          ignore: "pid,hostname,service",
        })
      : process.stdout);
  return {
    write(text: string) {
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        return out.write(text);
      }
      if (!shownAt(options.level, line)) return true;
      const summary = options.tty && options.level !== "debug" ? summarize(line) : undefined;
      return out.write(
        summary === undefined
          ? text
          : `${JSON.stringify({ level: line.level, time: line.time, msg: summary })}\n`,
      );
    },
  };
}

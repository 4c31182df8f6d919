/**
 * `npm run sandbox`: the broker sandbox alone, on SANDBOX_PORT (default 8600).
 * Optional SANDBOX_LATENCY_MS and SANDBOX_ERROR_RATE; both can also be changed
 * while it runs with `POST /_sandbox/config`. Ctrl-C stops it.
 */
import { createLogger, type Logger } from "../core/log";
import { parseSandboxSettings, startBrokerSandbox } from "./sandbox";

function readNumber(
  name: string,
  fallback: number,
  check: (value: number) => boolean,
  rule: string,
) {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || !check(value)) {
    console.error(`${name} must be ${rule}.`);
    process.exit(1);
  }
  return value;
}

const port = readNumber(
  "SANDBOX_PORT",
  8600,
  (value) => Number.isInteger(value) && value >= 0 && value <= 65535,
  "a port number from 0 to 65535",
);
let faults: { latencyMs: number; errorRate: number };
let logger: Logger;
try {
  faults = parseSandboxSettings(process.env);
  logger = createLogger({
    level: process.env.LOG_LEVEL ?? "info",
    base: { service: "broker-sandbox" },
  });
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}

const sandbox = await startBrokerSandbox({ port, ...faults, logger });

console.log(`Broker sandbox listening on ${sandbox.url}`);
for (const [name, value] of Object.entries(sandbox.env)) console.log(`${name}=${value}`);
console.log(
  `Stats: GET ${sandbox.url}/_sandbox/stats   Faults: POST ${sandbox.url}/_sandbox/config`,
);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    sandbox.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

/**
 * `npm start`: the whole service on one machine. Embedded Postgres under
 * DATA_DIR (or DATABASE_URL), migrations up, the broker sandbox (unless real
 * broker URLs are configured), the HTTP API on PORT and the refresh job on a
 * local interval. Prints where everything is and a curl line; Ctrl-C or
 * SIGTERM stops everything in reverse order.
 *
 * Settings: DATABASE_URL (the owner, who migrates), RUNTIME_DATABASE_URL (the
 * service's own connection; default: the runtime role with a password kept in
 * DATA_DIR), DATA_DIR (.data), PORT (3000), HOST (127.0.0.1),
 * SANDBOX_PORT (any free port), SANDBOX_LATENCY_MS and SANDBOX_ERROR_RATE (0:
 * the sandbox's faults), LOCAL_API_KEY, LOG_LEVEL (info),
 * REFRESH_INTERVAL_SECONDS (60, 0 turns the job off), HUB_PORT (3001: the
 * realtime hub's websocket at ws://HOST:HUB_PORT/stream; 0 turns it off; its
 * STREAM_* settings as in AWS), plus every setting the
 * core parsers read (KMS_KEY_ID/LOCAL_MASTER_KEY, KIS_REAL_URL…, REFRESH_*),
 * all checked (dev/start-settings.ts) before anything is started or changed.
 */
import { mkdir } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { createAuthenticator } from "../core/auth";
import { createSql, redactDatabaseUrl } from "../core/db";
import { createLogger, type Logger } from "../core/log";
import { findOnPath, migrate } from "../core/migrations";
import { createHub, parseStreamSettings, serveHub } from "../core/stream";
import { refreshDueTokens } from "../core/tokens";
import { openLocalApiKeys } from "./api-keys-file";
import { openDevDatabase } from "./database";
import { createLocalRuntime } from "./local-runtime";
import { runtimeDatabaseUrl } from "./runtime-role";
import { startBrokerSandbox } from "./sandbox";
import { adminKeyLines, writeApiUrl } from "./start-banner";
import { startLogDestination } from "./start-log";
import { readStartSettings, type StartSettings } from "./start-settings";

function fail(message: string): never {
  console.error(`npm start: ${message}`);
  process.exit(1);
}

const env = { ...process.env };
let settings: StartSettings;
try {
  settings = await readStartSettings(env);
} catch (error) {
  fail((error as Error).message);
}
const { dataDir, port, host, sandboxPort, hubPort, refreshSeconds } = settings;
env.DATA_DIR = dataDir;
// One line per request and per refresh run at info; every detail at debug (dev/start-log.ts).
const logger: Logger = createLogger({
  level: settings.logLevel,
  destination: startLogDestination({ level: settings.logLevel, tty: process.stdout.isTTY }),
});

/** What to stop, newest first. */
const stops: { name: string; stop: () => Promise<void> }[] = [];
let stopping = false;

async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    for (const { name, stop } of stops.reverse()) {
      try {
        await stop();
      } catch (error) {
        logger.warn({ part: name, err: error }, "could not stop cleanly");
      }
    }
    logger.info("stopped");
  }
  process.exit(code);
}

// npm and tsx pass a terminal's Ctrl-C on, so one key press can arrive twice
// within milliseconds: only a second press a moment later forces the exit.
let firstSignalAt = 0;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) {
      if (Date.now() - firstSignalAt < 1_000) return;
      console.error("\nStopping already; exiting now.");
      process.exit(130);
    }
    firstSignalAt = Date.now();
    console.error(`\n${signal}: stopping…`);
    void shutdown(0);
  });
}

try {
  await mkdir(dataDir, { recursive: true });

  const database = await openDevDatabase({
    ...(settings.databaseUrl ? { databaseUrl: settings.databaseUrl } : {}),
    dataDir,
    joinRunning: false,
  });
  stops.push({ name: "database", stop: database.stop });

  // The same `up` as `npm run migrate -- up`, backup rule included: a database
  // that holds tables is dumped first, and without pg_dump nothing is migrated.
  const report = await migrate({
    databaseUrl: database.url,
    action: "up",
    pgDump: await findOnPath("pg_dump", env.PATH ?? ""),
    dataDir,
    onNotice: (line) => logger.debug({ notice: line }, "migration notice"),
  });
  if (!report.ok)
    throw new Error(`migrations failed: ${report.error?.message ?? "see the report"}`);
  const applied = report.applied.filter((step) => step.direction === "up").length;
  logger.info({ applied }, applied ? `applied ${applied} migration(s)` : "schema is up to date");

  let sandboxUrl: string | undefined;
  if (settings.sandbox) {
    const sandbox = await startBrokerSandbox({
      ...settings.sandbox,
      port: sandboxPort,
      logger: logger.child({ part: "sandbox" }),
    });
    stops.push({ name: "sandbox", stop: sandbox.close });
    // A trade or two a second on every symbol a hub client subscribes to (POST /_sandbox/stream changes it).
    sandbox.streams.configure({ ticksPerSecond: 2 });
    Object.assign(env, sandbox.env);
    sandboxUrl = sandbox.url;
  }

  const apiKeys = await openLocalApiKeys({
    dataDir,
    ...(env.LOCAL_API_KEY ? { fixedKey: env.LOCAL_API_KEY } : {}),
    logger,
  });
  // The service connects as the runtime role (migration 0008), as in AWS.
  const runtimeUrl =
    env.RUNTIME_DATABASE_URL?.trim() ||
    (await runtimeDatabaseUrl({ ownerUrl: database.url, dataDir }));
  const runtime = await createLocalRuntime({
    databaseUrl: runtimeUrl,
    env,
    apiKeys: apiKeys.store,
    logger,
  });
  stops.push({ name: "pool", stop: runtime.close });

  const server = serve({ fetch: runtime.app.fetch, port, hostname: host });
  await new Promise<void>((ready, failed) => {
    server.once("listening", ready);
    server.once("error", failed);
  });
  stops.push({
    name: "server",
    stop: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        // Keep-alive connections would hold close() open.
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  });
  const apiUrl = `http://${host}:${(server.address() as AddressInfo).port}`;

  await writeApiUrl(dataDir, apiUrl);

  // The realtime hub, on the same pieces, against the sandbox's websockets.
  let hubUrl: string | undefined;
  if (hubPort > 0) {
    // A pool of its own, as the hub has in AWS: on Ctrl-C the embedded Postgres
    // stops at once, and the hub's last lease release must not leave the API's
    // pool waiting on a connection to a server that is gone.
    const hubSql = createSql(runtimeUrl, { max: 2, applicationName: "securities-support-hub" });
    const hub = createHub({
      sql: hubSql,
      cipher: runtime.cipher,
      tokens: runtime.tokens,
      gateway: runtime.gateway,
      auth: createAuthenticator(apiKeys.store),
      settings: parseStreamSettings(env),
      logger: logger.child({ part: "hub" }),
    });
    const hubServer = await serveHub(hub, { port: hubPort, host });
    stops.push({
      name: "hub",
      stop: async () => {
        await hubServer.close();
        await hubSql.end({ timeout: 0 });
      },
    });
    hubUrl = `${hubServer.url}/stream`;
  }

  let running: Promise<unknown> | undefined;
  if (refreshSeconds > 0) {
    const runRefresh = () => {
      if (running || stopping) return;
      // The job logs its own summary line.
      running = refreshDueTokens({ sql: runtime.sql, tokens: runtime.tokens, logger })
        .catch((error: Error) => logger.error({ err: error }, "refresh run failed"))
        // Orders left unknown by their requests are reconciled on the same beat.
        .then(() => runtime.gateway.reconcileLeftovers())
        .catch((error: Error) => logger.error({ err: error }, "order reconciliation failed"))
        .finally(() => {
          running = undefined;
        });
    };
    const timer = setInterval(runRefresh, refreshSeconds * 1000);
    runRefresh();
    stops.push({
      name: "refresh",
      stop: async () => {
        clearInterval(timer);
        await running;
      },
    });
  }

  const key = apiKeys.adminKey ?? (env.LOCAL_API_KEY ? "$LOCAL_API_KEY" : "<admin key>");
  const lines = [
    "",
    "securities-support is running",
    `  API        ${apiUrl}   (document: ${apiUrl}/openapi.json)`,
    `  database   ${database.kind === "embedded" ? `embedded Postgres, data in ${dataDir}/pg` : "DATABASE_URL"}: ${redactDatabaseUrl(database.url)}`,
    `  brokers    ${sandboxUrl ? `sandbox at ${sandboxUrl} (stats: ${sandboxUrl}/_sandbox/stats)` : "the URLs in KIS_*_URL / KIWOOM_*_URL"}`,
    `  hub        ${hubUrl ?? "off (HUB_PORT=0)"}${hubUrl ? " (websocket; docs/api.md, Realtime)" : ""}`,
    `  refresh    ${refreshSeconds > 0 ? `every ${refreshSeconds} s` : "off (REFRESH_INTERVAL_SECONDS=0)"}`,
    `  API keys   ${apiKeys.path} (admin key id: ${apiKeys.adminKeyId})`,
  ];
  if (apiKeys.createdKey) {
    lines.push(
      "",
      "  A new admin API key was created (`npm run keys -- api show-admin` shows it again;",
      "  `npm run keys -- api create` makes keys with fewer scopes):",
    );
  } else if (!env.LOCAL_API_KEY && !apiKeys.adminKey) {
    lines.push(
      "",
      `  The admin key is not kept in ${dataDir}: delete ${apiKeys.path} and start again for a new one, or set LOCAL_API_KEY.`,
    );
  }
  const keyLines = ["", ...adminKeyLines(key, apiUrl), ""];
  lines.push(...keyLines, "  Ctrl-C stops everything.", "");
  console.log(lines.join("\n"));
  // The first refresh run's line follows the banner; the key is repeated
  // after it, so it stays the last thing on the screen.
  if (running) {
    await running;
    if (!stopping) console.log(keyLines.join("\n"));
  }
} catch (error) {
  logger.error({ err: error }, "npm start failed");
  console.error(`npm start: ${(error as Error).message}`);
  await shutdown(1);
}

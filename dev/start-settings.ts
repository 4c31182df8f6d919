/**
 * Every setting `npm start` reads, checked before it touches anything: a
 * bad one used to surface only after the backup and the migrations had run
 * against the target database, or as a stack trace (LOG_LEVEL) or a bare
 * system error (DATABASE_URL, HOST). Each problem is one sentence naming
 * its setting; values that may hold a secret are never echoed.
 */

import { lookup } from "node:dns/promises";
import { createServer, isIP } from "node:net";
import { resolve } from "node:path";
import { brokerSettingSpecs } from "../core/brokers/settings";
import { readNumberSetting } from "../core/config";
import { createLogger } from "../core/log";
import { parseServiceSettings } from "../core/service";
import { parseStreamSettings } from "../core/stream/settings";
import { parseLocalApiKey } from "./api-keys-file";
import { checkDatabaseUrl } from "./database";
import { parseSandboxSettings } from "./sandbox";

/** Setting a broker URL (each broker's `<PREFIX>_REAL_URL`, `<PREFIX>_PAPER_URL`) means: use those brokers, start no sandbox. */
export function brokerUrlSettings(): string[] {
  return Object.entries(brokerSettingSpecs())
    .filter(([, spec]) => spec.kind === "text" && spec.readBy.includes("start"))
    .map(([name]) => name);
}

export interface StartSettings {
  dataDir: string;
  port: number;
  host: string;
  sandboxPort: number;
  /** The realtime hub's port (HUB_PORT, default 3001; 0 turns the hub off). */
  hubPort: number;
  refreshSeconds: number;
  logLevel: string;
  databaseUrl?: string;
  /** Absent when broker URLs are configured. */
  sandbox?: { latencyMs: number; errorRate: number };
}

/** Reads and checks the settings; throws one sentence naming the first bad one. */
export async function readStartSettings(
  env: Record<string, string | undefined>,
): Promise<StartSettings> {
  const dataDir = resolve(env.DATA_DIR?.trim() || ".data");
  const logLevel = env.LOG_LEVEL?.trim() || "info";
  createLogger({ level: logLevel, destination: { write: () => {} } });
  const databaseUrl = env.DATABASE_URL?.trim() || undefined;
  if (databaseUrl) checkDatabaseUrl(databaseUrl);
  const host = env.HOST?.trim() || "127.0.0.1";
  await checkHost(host);
  const useSandbox = !brokerUrlSettings().some((name) => env[name]?.trim());
  // The service's own parsers: encryption key, broker URLs, token timings.
  parseServiceSettings({ ...env, DATA_DIR: dataDir });
  parseStreamSettings(env);
  if (env.LOCAL_API_KEY !== undefined) parseLocalApiKey(env.LOCAL_API_KEY);
  const port = readNumberSetting(env, "PORT");
  await checkListen(host, port);
  return {
    dataDir,
    port,
    host,
    sandboxPort: readNumberSetting(env, "SANDBOX_PORT"),
    hubPort: readNumberSetting(env, "HUB_PORT"),
    refreshSeconds: readNumberSetting(env, "REFRESH_INTERVAL_SECONDS"),
    logLevel,
    ...(databaseUrl ? { databaseUrl } : {}),
    ...(useSandbox ? { sandbox: parseSandboxSettings(env) } : {}),
  };
}

async function checkHost(host: string): Promise<void> {
  if (isIP(host)) return;
  const rule = `HOST must be an IP address or a name this machine resolves to one, got "${host}".`;
  // "999.1.1.1" is not an address; the resolver would only say ENOTFOUND.
  if (/^[0-9.]+$/.test(host)) throw new Error(rule);
  try {
    await lookup(host);
  } catch {
    throw new Error(rule);
  }
}

/** Binds HOST:PORT once and lets go, so a taken port or a foreign address is named before any side effect. */
function checkListen(host: string, port: number): Promise<void> {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once("error", (error: NodeJS.ErrnoException) => {
      fail(
        new Error(
          error.code === "EADDRINUSE"
            ? `PORT ${port} is already in use on ${host}; set PORT to a free port.`
            : `HOST ${host} with PORT ${port} cannot be listened on (${error.code ?? error.message}); set HOST to an address of this machine.`,
        ),
      );
    });
    probe.listen(port, host, () => probe.close(() => done()));
  });
}

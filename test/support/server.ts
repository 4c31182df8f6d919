import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { serve } from "@hono/node-server";
import { type ApiKeyRecord, generateApiKey, type Scope } from "../../core/auth";
import { systemClock } from "../../core/clock";
import { createLocalKeyProvider } from "../../core/crypto";
import { createLogger } from "../../core/log";
import { openLocalApiKeys } from "../../dev/api-keys-file";
import { createLocalRuntime, type LocalRuntime } from "../../dev/local-runtime";
import { createTestDatabase, type TestDatabase } from "./database";
import {
  startTestBrokerSandbox,
  type TestBrokerSandbox,
  type TestBrokerSandboxOptions,
} from "./sandbox";

export interface TestServer {
  /** http://127.0.0.1:<port> */
  url: string;
  /** The local master key its cipher uses. */
  masterKey: Buffer;
  /** The admin key (LOCAL_API_KEY of the local key file). */
  adminKey: string;
  /** Plaintext keys by id for the extra keys asked for. */
  keys: Record<string, string>;
  runtime: LocalRuntime;
  db: TestDatabase;
  sandbox: TestBrokerSandbox;
  /** Everything logged so far, one JSON line each. */
  logs(): string;
  /** fetch against the server, with the admin key unless `key` is given (null: no header). */
  call(path: string, init?: RequestInit & { key?: string | null }): Promise<Response>;
  stop(): Promise<void>;
}

export interface TestServerOptions {
  /** Extra keys to create, by id, with their scopes. */
  keys?: Record<string, Scope[]>;
  /** Extra settings (TOKEN_ISSUE_WAIT_MS, …). */
  env?: Record<string, string>;
  /** The local master key (random by default): give another server's to read its rows. */
  masterKey?: Buffer;
  /** Serve this database instead of a fresh one; stop() then leaves it to its owner. */
  db?: TestDatabase;
  /** The runtime's pool size (default 5). */
  maxConnections?: number;
  /** The API's request deadline (default API Gateway's 29 s). */
  requestTimeoutMs?: number;
  /** Options of its broker sandbox (more brokers, faults…); its clock is the system clock unless given. */
  sandbox?: TestBrokerSandboxOptions;
}

/**
 * The local HTTP server with every real local piece: a fresh migrated
 * database, the broker sandbox on loopback, the local key file with a fixed
 * admin key, and a logger whose lines are kept for inspection.
 */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), "securities-support-api-"));
  const db = options.db ?? (await createTestDatabase());
  const masterKey = options.masterKey ?? randomBytes(32);
  const sandbox = await startTestBrokerSandbox({ clock: systemClock, ...options.sandbox });
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const logger = createLogger({ level: "debug", destination });

  const adminKey = `test-admin.${randomBytes(24).toString("base64url")}`;
  const local = await openLocalApiKeys({ dataDir, fixedKey: adminKey, logger });
  const extra: ApiKeyRecord[] = [];
  const keys: Record<string, string> = {};
  for (const [id, scopes] of Object.entries(options.keys ?? {})) {
    const generated = generateApiKey(id, scopes);
    extra.push(generated.record);
    keys[id] = generated.key;
  }
  const apiKeys = {
    description: local.store.description,
    keys: async () => [...(await local.store.keys()), ...extra],
  };

  const runtime = await createLocalRuntime({
    // As the service connects in AWS: the runtime role, not the owner, through
    // the run's transaction pooler when it has one (TEST_POOLER=pgbouncer).
    databaseUrl: db.serviceUrl,
    pooled: db.pooled,
    env: { ...sandbox.env, DATA_DIR: dataDir, ...options.env },
    apiKeys,
    logger,
    keys: createLocalKeyProvider({ masterKey }),
    maxConnections: options.maxConnections ?? 5,
    ...(options.requestTimeoutMs ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
  });
  const server = serve({ fetch: runtime.app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    masterKey,
    adminKey,
    keys,
    runtime,
    db,
    sandbox,
    logs: () => lines.join(""),
    call(path, init = {}) {
      const { key, ...rest } = init;
      const headers = new Headers(rest.headers);
      const chosen = key === undefined ? adminKey : key;
      if (chosen !== null && !headers.has("authorization"))
        headers.set("authorization", `Bearer ${chosen}`);
      return fetch(`${url}${path}`, { ...rest, headers });
    },
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A request still hanging (a test that caught a deadlock) must not hang the teardown.
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      await runtime.close();
      await sandbox.stop();
      if (!options.db) await db.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

import { randomUUID } from "node:crypto";
import { createAuthenticator, generateApiKey } from "../../core/auth";
import { createLogger, silentLogger } from "../../core/log";
import {
  createHub,
  type Hub,
  type HubServer,
  parseStreamSettings,
  serveHub,
} from "../../core/stream";
import type { TestServer } from "./server";

/** Fast settings for tests: a cut is noticed in 600 ms, backoff in tens of ms. */
export const FAST_STREAM_ENV = {
  STREAM_IDLE_TIMEOUT_MS: "600",
  STREAM_BACKOFF_BASE_MS: "20",
  STREAM_BACKOFF_MAX_MS: "200",
  STREAM_CONFLICT_BACKOFF_MS: "400",
  STREAM_LEASE_MS: "2000",
  STREAM_HEARTBEAT_MS: "200",
};

export interface TestHub {
  hub: Hub;
  server: HubServer;
  url: string;
  /** Keys with stream:read and without it. */
  readerKey: string;
  otherKey: string;
  stop(): Promise<void>;
}

/** A hub on the test server's pieces (database, cipher, tokens) and sandbox, on a free port. */
export async function startTestHub(
  on: TestServer,
  env: Record<string, string> = {},
  owner = `test-hub-${randomUUID()}`,
): Promise<TestHub> {
  const reader = generateApiKey("reader", ["stream:read"]);
  const other = generateApiKey("other", ["accounts:read"]);
  const auth = createAuthenticator({
    description: "test keys",
    keys: async () => [reader.record, other.record],
  });
  const hub = createHub({
    sql: on.runtime.sql,
    cipher: on.runtime.cipher,
    tokens: on.runtime.tokens,
    gateway: on.runtime.gateway,
    auth,
    settings: parseStreamSettings({ ...on.sandbox.sandbox.env, ...FAST_STREAM_ENV, ...env }),
    // HUB_TEST_LOG=debug shows the hub's lines while debugging a test.
    logger: process.env.HUB_TEST_LOG ? createLogger({ level: "debug" }) : silentLogger,
    owner,
  });
  const server = await serveHub(hub, { port: 0, host: "127.0.0.1" });
  return {
    hub,
    server,
    url: server.url,
    readerKey: reader.key,
    otherKey: other.key,
    stop: () => server.close(),
  };
}

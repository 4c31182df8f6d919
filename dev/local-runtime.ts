/**
 * The local composition of the service: the same pieces the Lambda functions
 * build, with local defaults. `npm start`, the e2e tests and the API
 * benchmark all build the app through here.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type ApiApp, type ApiTokenService, createApp } from "../core/api";
import { type ApiKeyStore, createAuthenticator } from "../core/auth";
import type { BrokerRegistry, BrokerRegistryDependencies } from "../core/brokers";
import type { Clock } from "../core/clock";
import { type Cipher, createKeyProvider, type KeyProvider } from "../core/crypto";
import { createSql, type Sql } from "../core/db";
import type { BrokerGateway } from "../core/gateway";
import type { Logger } from "../core/log";
import type { Metrics } from "../core/metrics";
import { composeService, parseServiceSettings } from "../core/service";
import type { TokenService } from "../core/tokens";

/** The committed OpenAPI document, served as the deployed API serves its copy. */
const OPENAPI_JSON = join(import.meta.dirname, "..", "openapi.json");

export interface LocalRuntimeOptions {
  databaseUrl: string;
  /** Settings (crypto, brokers, tokens), read with the core parsers. */
  env: Record<string, string | undefined>;
  apiKeys: ApiKeyStore;
  logger: Logger;
  clock?: Clock;
  /** Overrides the key provider the settings name (tests, benchmarks). */
  keys?: KeyProvider;
  post?: BrokerRegistryDependencies["post"];
  /** Pool size (default 10). */
  maxConnections?: number;
  /** databaseUrl is a transaction pooler (PgBouncer): no named prepared statements. */
  pooled?: boolean;
  /** How long a request may take before its caller gives up (default: API Gateway's 29 s). */
  requestTimeoutMs?: number;
  /** Where the gateway's and token reads' metrics go (benchmarks); none by default. */
  metrics?: Metrics;
}

export interface LocalRuntime {
  app: ApiApp;
  sql: Sql;
  cipher: Cipher;
  brokers: BrokerRegistry;
  tokens: TokenService;
  gateway: BrokerGateway;
  /** Waits for the gateway's audit writes, then closes the pool. */
  close(): Promise<void>;
}

/** Builds sql, cipher, brokers, tokens, auth and the app from settings. */
export async function createLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const settings = parseServiceSettings(options.env);
  const sql = createSql(
    { url: options.databaseUrl, pooled: options.pooled ?? false },
    {
      max: options.maxConnections ?? 10,
      applicationName: "securities-support-api",
      failFast: { logger: options.logger },
    },
  );
  const { cipher, brokers, tokens, gateway } = composeService({
    sql,
    keys: options.keys ?? (await createKeyProvider(settings.crypto)),
    settings,
    logger: options.logger,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.post ? { post: options.post } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
  });
  const app = createApp({
    openApiDocument: () => readFile(OPENAPI_JSON, "utf8"),
    sql,
    cipher,
    tokens: tokens satisfies ApiTokenService,
    auth: createAuthenticator(options.apiKeys),
    gateway,
    logger: options.logger,
    ...(options.requestTimeoutMs ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
  });
  return {
    app,
    sql,
    cipher,
    brokers,
    tokens,
    gateway,
    close: async () => {
      // The gateway's audit rows still being written, then the pool.
      await gateway.settled();
      await sql.end({ timeout: 5 });
    },
  };
}

import {
  type BrokerRegistry,
  type BrokerRegistryDependencies,
  type BrokerSend,
  type BrokerSettings,
  createBrokerRegistry,
  parseBrokerSettings,
} from "../brokers";
import { type Clock, systemClock } from "../clock";
import {
  type Cipher,
  type CryptoSettings,
  createCipher,
  type KeyProvider,
  parseCryptoSettings,
} from "../crypto";
import type { Sql } from "../db";
import { type BrokerGateway, createBrokerGateway } from "../gateway";
import { type Logger, silentLogger } from "../log";
import { type Metrics, recordTokenRead } from "../metrics";
import { type OrderSettings, parseOrderSettings } from "../orders";
import {
  createTokenService,
  parseTokenSettings,
  type TokenService,
  type TokenSettings,
} from "../tokens";

/** Every setting the token lifecycle needs, read once at start. */
export interface ServiceSettings {
  crypto: CryptoSettings;
  brokers: BrokerSettings;
  tokens: TokenSettings;
  orders: OrderSettings;
}

/** Reads and checks the service's settings from an environment object (one sentence per bad one). */
export function parseServiceSettings(env: Record<string, string | undefined>): ServiceSettings {
  return {
    crypto: parseCryptoSettings(env),
    brokers: parseBrokerSettings(env),
    tokens: parseTokenSettings(env),
    orders: parseOrderSettings(env),
  };
}

export interface ServicePieces {
  cipher: Cipher;
  brokers: BrokerRegistry;
  tokens: TokenService;
  gateway: BrokerGateway;
}

/**
 * The cipher, the broker clients, the token service and the broker gateway, built the same way
 * by every entry point (the functions, `npm start`, the CLIs). The caller
 * brings the pool and the key provider: KMS in AWS, the local key file on a
 * laptop.
 */
export function composeService(options: {
  sql: Sql;
  keys: KeyProvider;
  settings: ServiceSettings;
  clock?: Clock;
  logger?: Logger;
  post?: BrokerRegistryDependencies["post"];
  /** How the gateway's calls reach the brokers (node:http(s) by default). */
  send?: BrokerSend;
  /** When given, every token read is counted and timed (EMF). */
  metrics?: Metrics;
}): ServicePieces {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;
  const { crypto, brokers: brokerSettings, tokens: tokenSettings } = options.settings;
  const cipher = createCipher({
    sql: options.sql,
    keys: options.keys,
    clock,
    maxDataKeyAgeMs: crypto.maxDataKeyAgeMs,
    maxDataKeyUses: crypto.maxDataKeyUses,
    logger,
  });
  const brokers = createBrokerRegistry(brokerSettings, {
    clock,
    ...(options.post ? { post: options.post } : {}),
  });
  const tokens = createTokenService({
    sql: options.sql,
    cipher,
    brokers,
    clock,
    logger,
    settings: { ...tokenSettings, issueCallBudgetMs: brokerSettings.timeoutMs + 1000 },
  });
  const measured = options.metrics ? measureTokenReads(tokens, options.metrics) : tokens;
  const gateway = createBrokerGateway({
    sql: options.sql,
    cipher,
    tokens: measured,
    brokers,
    brokerSettings,
    logger,
    ...(options.send ? { send: options.send } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
    orderSettings: options.settings.orders,
  });
  return { cipher, brokers, tokens: measured, gateway };
}

/** The token service with each getValidToken (API and gateway reads alike) counted and timed. */
function measureTokenReads(tokens: TokenService, metrics: Metrics): TokenService {
  const read = tokens.getValidToken;
  return {
    ...tokens,
    async getValidToken(...args: Parameters<TokenService["getValidToken"]>) {
      const started = performance.now();
      let ok = false;
      try {
        const token = await read(...args);
        ok = true;
        return token;
      } finally {
        recordTokenRead(metrics, { ok, latencyMs: performance.now() - started });
      }
    },
  };
}

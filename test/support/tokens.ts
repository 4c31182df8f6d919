import { randomBytes } from "node:crypto";
import { afterAll, beforeAll } from "vitest";
import { type Account, createAccount, parseCreateAccount } from "../../core/accounts";
import type { BrokerRegistry } from "../../core/brokers";
import type { Clock } from "../../core/clock";
import type { Cipher } from "../../core/crypto";
import type { Sql } from "../../core/db";
import { createTokenService, type TokenService, type TokenSettings } from "../../core/tokens";
import { createTestCipher, type TestCipher } from "./crypto";
import { createTestDatabase, type TestDatabase } from "./database";
import { startTestBrokerSandbox, type TestBrokerSandbox } from "./sandbox";

/** A clock that runs with real time, plus an offset a test can move forward. */
export interface OffsetClock extends Clock {
  advance(ms: number): void;
}

export function offsetClock(): OffsetClock {
  let offset = 0;
  return {
    now: () => new Date(Date.now() + offset),
    advance: (ms) => {
      offset += ms;
    },
  };
}

/** Creates a securities account through the real validation and store. */
export async function securitiesAccount(
  sql: Sql,
  cipher: Cipher,
  options: {
    broker?: "KIS" | "KIWOOM";
    environment?: "real" | "paper";
    appKey?: string;
    name?: string;
  } = {},
): Promise<Account> {
  const broker = options.broker ?? "KIS";
  const input = parseCreateAccount({
    name: options.name ?? `test-${randomBytes(3).toString("hex")}`,
    account_type: "SECURITIES_STOCK",
    exchange: broker,
    environment: options.environment ?? "real",
    api_key: options.appKey ?? `PS${randomBytes(12).toString("hex")}`,
    api_secret: `secret-${randomBytes(24).toString("base64url")}`,
    securities_config: {
      account_number: broker === "KIS" ? "12345678" : "5012345678",
      ...(broker === "KIS" ? { product_code: "01" } : {}),
      market_type: "DOMESTIC_STOCK",
      cert_password: "cert-pw-123",
      additional_params: {},
    },
  });
  return createAccount(sql, cipher, input);
}

/** A token service as one process would build it. */
export function tokenService(deps: {
  sql: Sql;
  cipher: Cipher;
  brokers: BrokerRegistry;
  clock: Clock;
  settings?: Partial<TokenSettings>;
}): TokenService {
  return createTokenService({ ...deps, settings: { issueLeaseMs: 5_000, ...deps.settings } });
}

/**
 * Leases and the broker's pace live on the database's clock
 * (clock_timestamp()), which a test cannot move. When a test moves its
 * process clock forward, this moves those instants back by as much, so that
 * they see the same time pass.
 */
export async function shiftDatabaseTimes(sql: Sql, ms: number): Promise<void> {
  const by = `${ms} milliseconds`;
  await sql`
    UPDATE broker_issuance_slots
    SET lease_until = lease_until - ${by}::interval,
        next_allowed_at = next_allowed_at - ${by}::interval`;
  await sql`
    UPDATE securities_token_state SET claimed_until = claimed_until - ${by}::interval
    WHERE claimed_until IS NOT NULL`;
}

/** What a token test file works with: its own database, a clock it moves, the sandbox and a cipher on that clock. */
export interface TokenTestBed {
  db: TestDatabase;
  clock: OffsetClock;
  broker: TestBrokerSandbox;
  crypto: TestCipher;
}

/**
 * Makes a token test file's bed before its tests, hands it to `bind` (which
 * sets the file's own names), and drops it after them. Returns `advance(ms)`:
 * the clock moves, and by as much the leases and pace on the database's clock.
 */
export function useTokenTestBed(
  bind: (bed: TokenTestBed) => void,
  options: { sandboxEnv?: Record<string, string> } = {},
): (ms: number) => Promise<void> {
  let db: TestDatabase | undefined;
  let broker: TestBrokerSandbox | undefined;
  const clock = offsetClock();
  beforeAll(async () => {
    db = await createTestDatabase();
    broker = await startTestBrokerSandbox({
      clock,
      ...(options.sandboxEnv ? { env: options.sandboxEnv } : {}),
    });
    bind({ db, clock, broker, crypto: createTestCipher(db.sql, { clock }) });
  });
  afterAll(async () => {
    await broker?.stop();
    await db?.drop();
  });
  return async (ms) => {
    clock.advance(ms);
    if (db) await shiftDatabaseTimes(db.sql, ms);
  };
}

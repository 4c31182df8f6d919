import { randomBytes } from "node:crypto";
import type { Clock } from "../../core/clock";
import {
  type Cipher,
  createCipher,
  createLocalKeyProvider,
  type KeyProvider,
} from "../../core/crypto";
import type { Sql } from "../../core/db";

export interface TestCipher {
  cipher: Cipher;
  keys: KeyProvider;
  /** The random local master key (never written to disk). */
  masterKey: Buffer;
}

/**
 * A local-key cipher over a test database's data_keys table, for tests that
 * need encrypted rows. Each call makes a new random master key unless one is given.
 */
export function createTestCipher(
  sql: Sql,
  options: {
    masterKey?: Buffer;
    clock?: Clock;
    maxDataKeyAgeMs?: number;
    maxDataKeyUses?: number;
  } = {},
): TestCipher {
  const masterKey = options.masterKey ?? randomBytes(32);
  const keys = createLocalKeyProvider({ masterKey });
  const cipher = createCipher({
    sql,
    keys,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.maxDataKeyAgeMs ? { maxDataKeyAgeMs: options.maxDataKeyAgeMs } : {}),
    ...(options.maxDataKeyUses ? { maxDataKeyUses: options.maxDataKeyUses } : {}),
  });
  return { cipher, keys, masterKey };
}

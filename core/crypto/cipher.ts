import {
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  type KeyObject,
  randomBytes,
} from "node:crypto";
import { type Clock, systemClock } from "../clock";
import { SETTINGS } from "../config/settings";
import type { Sql } from "../db";
import { type Logger, silentLogger } from "../log";
import { createPostgresDataKeyStore, type DataKeyStore } from "./data-keys";
import {
  CiphertextAuthenticationError,
  InvalidEncryptionInputError,
  KeyProviderMismatchError,
  UnknownDataKeyError,
} from "./errors";
import {
  additionalData,
  type CipherBinding,
  checkBinding,
  describe,
  formatCiphertext,
  IV_BYTES,
  isCiphertext,
  parseCiphertext,
  TAG_BYTES,
} from "./format";
import type { KeyProvider } from "./key-provider";

/** A process encrypts with one data key for at most this long (24 h; DATA_KEY_MAX_AGE_SECONDS)… */
export const DEFAULT_MAX_DATA_KEY_AGE_MS = SETTINGS.DATA_KEY_MAX_AGE_SECONDS.default * 1000;
/** …or this many encryptions (2^20, DATA_KEY_MAX_USES), far below AES-GCM's 2^32 random-IV bound. */
export const DEFAULT_MAX_DATA_KEY_USES = SETTINGS.DATA_KEY_MAX_USES.default;
/** The largest use count settings may ask for: half of NIST SP 800-38D's 2^32. */
export const MAX_ALLOWED_DATA_KEY_USES = SETTINGS.DATA_KEY_MAX_USES.max;

export interface CipherOptions {
  /** The database holding data_keys. Ignored when `store` is given. */
  sql?: Sql;
  /** Where wrapped data keys live; the data_keys table of `sql` by default. */
  store?: DataKeyStore;
  keys: KeyProvider;
  clock?: Clock;
  maxDataKeyAgeMs?: number;
  maxDataKeyUses?: number;
  /** Where each accepted legacy plaintext read is counted (a warn line each). */
  logger?: Logger;
}

export interface DecryptOptions {
  /**
   * Return a value that is not in our format as it is (legacy plaintext
   * written before this service encrypted the column), logging the read
   * with the process's running count. Off by default: for columns that were
   * always encrypted, such a value is an error. Only CRYPTO accounts'
   * api_key and api_secret ask for it.
   */
  allowLegacyPlaintext?: boolean;
}

/** Row-bound envelope encryption of short secrets. */
export interface Cipher {
  encrypt(plaintext: string, binding: CipherBinding): Promise<string>;
  decrypt(ciphertext: string, binding: CipherBinding, options?: DecryptOptions): Promise<string>;
  /** True when the value is (or claims to be) our ciphertext; false for legacy plaintext. */
  isCiphertext(value: string): boolean;
}

interface ActiveKey {
  id: number;
  key: KeyObject;
  createdAt: number;
  uses: number;
}

const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * Envelope encryption with AES-256-GCM. Hand-written rather than the AWS
 * Encryption SDK: the SDK is far slower per operation, embeds the wrapped
 * data key in every message (hundreds of bytes in a TEXT column) and cannot
 * require an expected context on decrypt.
 *
 * Per process it keeps one current data key for encryption (replaced after
 * `maxDataKeyAgeMs` or `maxDataKeyUses`) and every unwrapped data key for
 * decryption, so steady-state reads and writes make no KMS call. Concurrent
 * first uses share one in-flight GenerateDataKey or Decrypt.
 *
 * The cipher writes new data keys through its own `sql`, outside any caller's
 * transaction: give it a pool with room for one more connection.
 */
export function createCipher(options: CipherOptions): Cipher {
  const given =
    options.store ?? (options.sql ? createPostgresDataKeyStore(options.sql) : undefined);
  if (!given) throw new InvalidEncryptionInputError("createCipher needs sql or a data key store");
  const store: DataKeyStore = given;
  const { keys } = options;
  const clock = options.clock ?? systemClock;
  const maxAgeMs = options.maxDataKeyAgeMs ?? DEFAULT_MAX_DATA_KEY_AGE_MS;
  const maxUses = Math.min(
    options.maxDataKeyUses ?? DEFAULT_MAX_DATA_KEY_USES,
    MAX_ALLOWED_DATA_KEY_USES,
  );

  const logger = options.logger ?? silentLogger;
  let legacyPlaintextReads = 0;
  let current: Promise<ActiveKey> | undefined;
  const unwrapped = new Map<number, Promise<KeyObject>>();

  // Checked once per process, before its first data key: afterwards every
  // key it writes is of its own kind, so the answer cannot change.
  let providerChecked: Promise<void> | undefined;
  function checkProvider(): Promise<void> {
    providerChecked ??= (async () => {
      const foreign = await store.foreignMasterKey(keys.kind);
      if (foreign === undefined) return;
      throw new KeyProviderMismatchError(
        keys.kind === "local"
          ? `This process encrypts with a local master key, but this database's data keys are wrapped by AWS KMS (${foreign}), so the service could not read what it wrote: set KMS_KEY_ID to that key.`
          : `This process encrypts with AWS KMS, but this database's data keys are wrapped by a local master key (${foreign}), so the local tools could not read what it wrote: use this database with the local key (no KMS_KEY_ID).`,
      );
    })();
    providerChecked.catch(() => {
      providerChecked = undefined;
    });
    return providerChecked;
  }

  async function createDataKey(): Promise<ActiveKey> {
    await checkProvider();
    const generated = await keys.generateDataKey();
    const id = await store.insert({
      masterKeyId: generated.masterKeyId,
      wrapped: generated.wrapped,
    });
    const key = createSecretKey(generated.plaintext);
    generated.plaintext.fill(0);
    unwrapped.set(id, Promise.resolve(key));
    return { id, key, createdAt: clock.now().getTime(), uses: 0 };
  }

  async function encryptionKey(): Promise<ActiveKey> {
    for (;;) {
      if (!current) {
        const created = createDataKey();
        current = created;
        created.catch(() => {
          if (current === created) current = undefined;
        });
      }
      const pending = current;
      const active = await pending;
      if (active.uses < maxUses && clock.now().getTime() - active.createdAt < maxAgeMs) {
        active.uses++;
        return active;
      }
      if (current === pending) current = undefined;
    }
  }

  function decryptionKey(id: number): Promise<KeyObject> {
    let pending = unwrapped.get(id);
    if (!pending) {
      pending = (async () => {
        const stored = await store.get(id);
        if (!stored) throw new UnknownDataKeyError(id);
        const plaintext = await keys.unwrapDataKey(stored);
        const key = createSecretKey(plaintext);
        plaintext.fill(0);
        return key;
      })();
      unwrapped.set(id, pending);
      // A failure is not cached: the next read tries again.
      pending.catch(() => {
        if (unwrapped.get(id) === pending) unwrapped.delete(id);
      });
    }
    return pending;
  }

  return {
    isCiphertext,
    async encrypt(plaintext, binding) {
      checkBinding(binding);
      if (LONE_SURROGATE.test(plaintext)) {
        throw new InvalidEncryptionInputError(
          `plaintext for ${describe(binding)} is not valid Unicode (lone surrogate)`,
        );
      }
      const active = await encryptionKey();
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv("aes-256-gcm", active.key, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(additionalData(active.id, binding));
      const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
      return formatCiphertext(active.id, iv, body, cipher.getAuthTag());
    },
    async decrypt(ciphertext, binding, decryptOptions) {
      checkBinding(binding);
      if (!isCiphertext(ciphertext)) {
        if (decryptOptions?.allowLegacyPlaintext) {
          // Counted so that operators see when `keys rewrap --migrate-legacy-plaintext` can run.
          legacyPlaintextReads++;
          logger.warn(
            {
              table: binding.table,
              column: binding.column,
              row_id: binding.rowId,
              legacy_plaintext_reads: legacyPlaintextReads,
            },
            "legacy plaintext read",
          );
          return ciphertext;
        }
        throw new CiphertextAuthenticationError(`value of ${describe(binding)} is not encrypted`);
      }
      const parsed = parseCiphertext(ciphertext, binding);
      const key = await decryptionKey(parsed.dataKeyId);
      try {
        const decipher = createDecipheriv("aes-256-gcm", key, parsed.iv, {
          authTagLength: TAG_BYTES,
        });
        decipher.setAAD(additionalData(parsed.dataKeyId, binding));
        decipher.setAuthTag(parsed.tag);
        return Buffer.concat([decipher.update(parsed.body), decipher.final()]).toString("utf8");
      } catch (error) {
        throw new CiphertextAuthenticationError(
          `ciphertext for ${describe(binding)} failed authentication: it was altered or belongs to another row or column`,
          { cause: error },
        );
      }
    },
  };
}

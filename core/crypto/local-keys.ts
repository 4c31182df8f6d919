import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CryptoSettingsError, WrongMasterKeyError } from "./errors";
import type { GeneratedDataKey, KeyProvider, WrappedDataKey } from "./key-provider";

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
// Matches the coarse KMS encryption context: wrapped data keys only.
const WRAP_AAD = Buffer.from("securities-support|data-key");

export interface LocalKeyProviderOptions {
  /** The current 32-byte master key. */
  masterKey: Buffer;
  /** Earlier master keys, so that `keys rotate` can unwrap what they wrapped. */
  previousMasterKeys?: Buffer[];
}

/** The id a local master key is known by: a fingerprint, never the key. */
export function localMasterKeyId(masterKey: Buffer): string {
  const digest = createHash("sha256")
    .update("securities-support master key id|")
    .update(masterKey)
    .digest("hex");
  return `local:${digest.slice(0, 16)}`;
}

/**
 * A master key held in this process: data keys are wrapped with AES-256-GCM
 * under it. For `npm start` and tests; AWS deployments use KMS.
 */
export function createLocalKeyProvider(options: LocalKeyProviderOptions): KeyProvider {
  const keys = new Map<string, Buffer>();
  for (const key of [options.masterKey, ...(options.previousMasterKeys ?? [])]) {
    if (key.length !== KEY_BYTES)
      throw new CryptoSettingsError("a local master key must be exactly 32 bytes");
    keys.set(localMasterKeyId(key), key);
  }
  const masterKeyId = localMasterKeyId(options.masterKey);

  function wrap(plaintext: Buffer): WrappedDataKey {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", options.masterKey, iv);
    cipher.setAAD(WRAP_AAD);
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return { masterKeyId, wrapped: Buffer.concat([iv, body, cipher.getAuthTag()]) };
  }

  function unwrap(key: WrappedDataKey): Buffer {
    const masterKey = keys.get(key.masterKeyId);
    if (!masterKey) {
      throw new WrongMasterKeyError(
        `data key was wrapped by master key ${key.masterKeyId}, which is not configured (current: ${masterKeyId})`,
      );
    }
    try {
      const decipher = createDecipheriv(
        "aes-256-gcm",
        masterKey,
        key.wrapped.subarray(0, IV_BYTES),
      );
      decipher.setAAD(WRAP_AAD);
      decipher.setAuthTag(key.wrapped.subarray(key.wrapped.length - TAG_BYTES));
      return Buffer.concat([
        decipher.update(key.wrapped.subarray(IV_BYTES, key.wrapped.length - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch (error) {
      throw new WrongMasterKeyError(
        `data key wrapped by ${key.masterKeyId} failed to unwrap with that master key`,
        {
          cause: error,
        },
      );
    }
  }

  return {
    kind: "local",
    masterKeyId,
    async generateDataKey(): Promise<GeneratedDataKey> {
      const plaintext = randomBytes(KEY_BYTES);
      return { ...wrap(plaintext), plaintext };
    },
    async unwrapDataKey(key) {
      return unwrap(key);
    },
    async rewrapDataKey(key) {
      const plaintext = unwrap(key);
      try {
        return wrap(plaintext);
      } finally {
        plaintext.fill(0);
      }
    },
  };
}

/**
 * The local master key: `LOCAL_MASTER_KEY` when given, else `<dataDir>/master.key`
 * (base64 text), created with mode 0600 on first use.
 */
export async function loadLocalMasterKey(options: {
  dataDir: string;
  masterKey?: Buffer;
}): Promise<Buffer> {
  if (options.masterKey) return options.masterKey;
  const path = join(options.dataDir, "master.key");
  try {
    return await readKeyFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  await mkdir(options.dataDir, { recursive: true });
  const key = randomBytes(KEY_BYTES);
  try {
    await writeFile(path, `${key.toString("base64")}\n`, { mode: 0o600, flag: "wx" });
    return key;
  } catch (error) {
    // Another process created it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return readKeyFile(path);
    throw error;
  }
}

async function readKeyFile(path: string): Promise<Buffer> {
  const info = await stat(path);
  if ((info.mode & 0o077) !== 0) {
    throw new CryptoSettingsError(`${path} is readable by other users: run chmod 600 ${path}`);
  }
  const key = Buffer.from((await readFile(path, "utf8")).trim(), "base64");
  if (key.length !== KEY_BYTES)
    throw new CryptoSettingsError(`${path} must hold a base64 32-byte key`);
  return key;
}

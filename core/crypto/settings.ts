import type { KMSClient } from "@aws-sdk/client-kms";
import { readNumberSetting } from "../config";
import { CryptoSettingsError } from "./errors";
import type { KeyProvider } from "./key-provider";
import { createKmsKeyProvider } from "./kms-keys";
import { createLocalKeyProvider, loadLocalMasterKey } from "./local-keys";

export interface CryptoSettings {
  /** "kms" when KMS_KEY_ID is set, else "local". */
  provider: "kms" | "local";
  /** KMS_KEY_ID: key id, ARN or alias. */
  kmsKeyId?: string;
  /** LOCAL_MASTER_KEY (base64 of 32 bytes); else the key file under dataDir. */
  localMasterKey?: Buffer;
  /** LOCAL_PREVIOUS_MASTER_KEYS (comma-separated base64): older local keys `keys rotate` can unwrap. */
  localPreviousMasterKeys: Buffer[];
  /** DATA_DIR, default ".data": where master.key lives. */
  dataDir: string;
  /** DATA_KEY_MAX_AGE_SECONDS (default 86400), in ms. */
  maxDataKeyAgeMs: number;
  /** DATA_KEY_MAX_USES (default 1048576). */
  maxDataKeyUses: number;
}

/** Reads the crypto settings from an environment object; throws one sentence naming a bad setting. */
export function parseCryptoSettings(env: Record<string, string | undefined>): CryptoSettings {
  const kmsKeyId = env.KMS_KEY_ID?.trim() || undefined;
  const localMasterKey = env.LOCAL_MASTER_KEY
    ? parseKey("LOCAL_MASTER_KEY", env.LOCAL_MASTER_KEY)
    : undefined;
  const previous = (env.LOCAL_PREVIOUS_MASTER_KEYS ?? "")
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean)
    .map((item) => parseKey("LOCAL_PREVIOUS_MASTER_KEYS", item));
  const maxAgeSeconds = readNumberSetting(env, "DATA_KEY_MAX_AGE_SECONDS");
  const maxUses = readNumberSetting(env, "DATA_KEY_MAX_USES");
  return {
    provider: kmsKeyId ? "kms" : "local",
    ...(kmsKeyId ? { kmsKeyId } : {}),
    ...(localMasterKey ? { localMasterKey } : {}),
    localPreviousMasterKeys: previous,
    dataDir: env.DATA_DIR?.trim() || ".data",
    maxDataKeyAgeMs: maxAgeSeconds * 1000,
    maxDataKeyUses: maxUses,
  };
}

/** Builds the key provider the settings name: KMS (client passed in or created here) or the local key. */
export async function createKeyProvider(
  settings: CryptoSettings,
  deps: { kmsClient?: KMSClient } = {},
): Promise<KeyProvider> {
  if (settings.provider === "kms" && settings.kmsKeyId) {
    return createKmsKeyProvider({
      keyId: settings.kmsKeyId,
      ...(deps.kmsClient ? { client: deps.kmsClient } : {}),
    });
  }
  const masterKey = await loadLocalMasterKey({
    dataDir: settings.dataDir,
    ...(settings.localMasterKey ? { masterKey: settings.localMasterKey } : {}),
  });
  return createLocalKeyProvider({
    masterKey,
    previousMasterKeys: settings.localPreviousMasterKeys,
  });
}

function parseKey(name: string, value: string): Buffer {
  const trimmed = value.trim();
  const key = Buffer.from(trimmed, "base64");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) || key.length !== 32) {
    throw new CryptoSettingsError(
      `${name} must be the base64 encoding of exactly 32 bytes (openssl rand -base64 32)`,
    );
  }
  return key;
}

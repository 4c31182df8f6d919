/**
 * The local API key source: `DATA_DIR/api-keys.json`, the same document the
 * Secrets Manager secret holds, created at first start (mode 0600) with one
 * admin key whose plaintext is returned once for `npm start` to print.
 */
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type ApiKeyRecord,
  type ApiKeyStore,
  createCachedKeyStore,
  generateApiKey,
  hashApiKeySecret,
  MIN_SECRET_LENGTH,
  parseApiKeyStore,
  splitApiKey,
} from "../core/auth";
import type { Clock } from "../core/clock";
import type { Logger } from "../core/log";

export const LOCAL_ADMIN_KEY_ID = "local-admin";

export interface LocalApiKeys {
  store: ApiKeyStore;
  /** The key file. */
  path: string;
  /** The plaintext of the admin key created just now (first start only): print it once. */
  createdKey?: string;
  /** The id of the admin key (LOCAL_API_KEY's or the generated one). */
  adminKeyId: string;
}

export interface LocalApiKeysOptions {
  dataDir: string;
  /** LOCAL_API_KEY: `<key id>.<secret>`; its hash is written to the file as an admin key. */
  fixedKey?: string;
  /** The file is read again after this long, so edits take effect (default 5 s). */
  ttlMs?: number;
  clock?: Clock;
  logger?: Logger;
}

/** Opens (and on first start creates) the local key file. */
/** LOCAL_API_KEY as the admin key's record; throws one sentence naming the setting. */
export function parseLocalApiKey(raw: string): ApiKeyRecord {
  const parts = splitApiKey(raw.trim());
  if (!parts) {
    throw new Error(
      `LOCAL_API_KEY must look like <key id>.<secret>: an id of letters, digits, _ or -, a dot, and a secret of at least ${MIN_SECRET_LENGTH} characters (e.g. local.$(openssl rand -hex 24)).`,
    );
  }
  return { id: parts.id, hash: hashApiKeySecret(parts.secret), scopes: ["admin"] };
}

export async function openLocalApiKeys(options: LocalApiKeysOptions): Promise<LocalApiKeys> {
  const path = join(options.dataDir, "api-keys.json");
  const description = `the file ${path}`;
  const fixed = options.fixedKey === undefined ? undefined : parseLocalApiKey(options.fixedKey);

  await mkdir(options.dataDir, { recursive: true });
  let existing: ApiKeyRecord[] | undefined;
  try {
    existing = parseApiKeyStore(await readFile(path, "utf8"), description);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }

  let createdKey: string | undefined;
  let adminKeyId = fixed?.id ?? LOCAL_ADMIN_KEY_ID;
  if (!existing) {
    let record = fixed;
    if (!record) {
      const generated = generateApiKey(LOCAL_ADMIN_KEY_ID, ["admin"], "created by npm start");
      record = generated.record;
      createdKey = generated.key;
    }
    await writeKeys(path, [record], "wx");
  } else if (fixed) {
    const current = existing.find((key) => key.id === fixed.id);
    if (!current || current.hash !== fixed.hash || !current.scopes.includes("admin")) {
      await writeKeys(path, [...existing.filter((key) => key.id !== fixed.id), fixed], "w");
    }
  } else {
    adminKeyId = existing.find((key) => key.scopes.includes("admin"))?.id ?? adminKeyId;
  }

  const store = createCachedKeyStore({
    description,
    ttlMs: options.ttlMs ?? 5_000,
    load: async () => parseApiKeyStore(await readFile(path, "utf8"), description),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  return { store, path, adminKeyId, ...(createdKey ? { createdKey } : {}) };
}

async function writeKeys(path: string, keys: ApiKeyRecord[], flag: "w" | "wx"): Promise<void> {
  await writeFile(path, `${JSON.stringify({ keys }, null, 2)}\n`, { mode: 0o600, flag });
  // The mode above applies only to a new file.
  await chmod(path, 0o600);
}

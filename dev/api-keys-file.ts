/**
 * The local API key source: `DATA_DIR/api-keys.json`, the same document the
 * Secrets Manager secret holds, created at first start (mode 0600) with one
 * admin key whose plaintext is returned once for `npm start` to print.
 */
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type ApiKeyRecord,
  type ApiKeyStore,
  createCachedKeyStore,
  formatApiKeyStore,
  generateApiKey,
  hashApiKeySecret,
  MIN_SECRET_LENGTH,
  matchApiKey,
  parseApiKeyStore,
  splitApiKey,
} from "../core/auth";
import type { Clock } from "../core/clock";
import type { Logger } from "../core/log";

export const LOCAL_ADMIN_KEY_ID = "local-admin";
/** Under DATA_DIR: the keys' hashes, and the generated admin key itself (for `api show-admin`). */
export const API_KEYS_FILE = "api-keys.json";
export const ADMIN_KEY_FILE = "admin-api-key";

export interface LocalApiKeys {
  store: ApiKeyStore;
  /** The key file. */
  path: string;
  /** The plaintext of the admin key created just now (first start only). */
  createdKey?: string;
  /** The admin key generated here, created now or kept from an earlier start, while it still works. */
  adminKey?: string;
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
  const path = join(options.dataDir, API_KEYS_FILE);
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
  const generateAdminKey = async () => {
    const generated = generateApiKey(LOCAL_ADMIN_KEY_ID, ["admin"], "created by npm start");
    createdKey = generated.key;
    // Kept on this machine only, like the master key beside it, so that
    // `npm run keys -- api show-admin` can print it again.
    await writeFile(join(options.dataDir, ADMIN_KEY_FILE), `${generated.key}\n`, { mode: 0o600 });
    return generated.record;
  };
  if (!existing) {
    await writeKeys(path, [fixed ?? (await generateAdminKey())], "wx");
  } else if (!fixed && !existing.some((key) => key.scopes.includes("admin"))) {
    // Keys made with `npm run keys -- api create` before the first start: add the admin key.
    const taken = existing.some((key) => key.id === LOCAL_ADMIN_KEY_ID);
    if (taken) {
      throw new Error(
        `${description} has a key named ${LOCAL_ADMIN_KEY_ID} without the admin scope: remove it (npm run keys -- api remove ${LOCAL_ADMIN_KEY_ID}) or set LOCAL_API_KEY.`,
      );
    }
    await writeKeys(path, [...existing, await generateAdminKey()], "w");
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
  // The kept key, unless its record was removed or replaced since.
  const kept = createdKey ?? (fixed ? undefined : await readLocalAdminKey(options.dataDir));
  const records = parseApiKeyStore(await readFile(path, "utf8"), description);
  const adminKey = kept && matchApiKey(records, kept)?.scopes.includes("admin") ? kept : undefined;
  return {
    store,
    path,
    adminKeyId,
    ...(createdKey ? { createdKey } : {}),
    ...(adminKey ? { adminKey } : {}),
  };
}

async function writeKeys(path: string, keys: ApiKeyRecord[], flag: "w" | "wx"): Promise<void> {
  await writeFile(path, formatApiKeyStore(keys), { mode: 0o600, flag });
  // The mode above applies only to a new file.
  await chmod(path, 0o600);
}

/** The keys in DATA_DIR's file (none when there is no file yet). */
export async function readLocalKeys(dataDir: string): Promise<ApiKeyRecord[]> {
  const path = join(dataDir, API_KEYS_FILE);
  try {
    return parseApiKeyStore(await readFile(path, "utf8"), `the file ${path}`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}

/**
 * Replaces DATA_DIR's key file (mode 0600) in one rename, so a running
 * `npm start`, which re-reads it every few seconds, never sees half of it.
 */
export async function writeLocalKeys(
  dataDir: string,
  keys: readonly ApiKeyRecord[],
): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  const path = join(dataDir, API_KEYS_FILE);
  const next = `${path}.${process.pid}.tmp`;
  await writeFile(next, formatApiKeyStore(keys), { mode: 0o600 });
  await rename(next, path);
}

/** The admin key npm start generated, kept in DATA_DIR; undefined when it was not generated here. */
export async function readLocalAdminKey(dataDir: string): Promise<string | undefined> {
  try {
    return (await readFile(join(dataDir, ADMIN_KEY_FILE), "utf8")).trim() || undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import * as z from "zod/mini";

/** What a key may do. `admin` implies every other scope. */
export const SCOPES = [
  "accounts:read",
  "accounts:write",
  "tokens:read",
  "tokens:write",
  "broker:call",
  "stream:read",
  "admin",
] as const;
export type Scope = (typeof SCOPES)[number];

/** What each scope allows, in a line: the docs' scope tables are generated from this. */
export const SCOPE_DESCRIPTIONS: Record<Scope, string> = {
  "accounts:read": "read accounts (redacted), token health and gateway statistics",
  "accounts:write": "create, change and delete accounts",
  "tokens:read": "read a valid broker token or KIS websocket key, issued if needed",
  "tokens:write": "refresh or invalidate a token now",
  "broker:call": "call the account's broker through the gateway",
  "stream:read": "connect to the realtime hub's websocket: market data and the accounts' fills",
  admin: "everything above",
};

/**
 * `accounts:read,broker:call` as scopes; throws one sentence naming the
 * unknown one and the valid ones.
 */
export function parseScopes(text: string): Scope[] {
  const names = text
    .split(",")
    .map((name) => name.trim())
    .filter(Boolean);
  if (names.length === 0) throw new Error(`Give at least one scope of ${SCOPES.join(", ")}.`);
  const unknown = names.filter((name) => !(SCOPES as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw new Error(
      `Unknown scope ${unknown.map((name) => `"${name}"`).join(", ")}: the scopes are ${SCOPES.join(", ")}.`,
    );
  }
  return [...new Set(names)] as Scope[];
}

/** The records with a new key added; the key's plaintext is in `key`, to show once. */
export function addApiKey(
  records: readonly ApiKeyRecord[],
  key: { id: string; scopes: Scope[]; description?: string },
): { records: ApiKeyRecord[]; key: string } {
  if (records.some((record) => record.id === key.id)) {
    throw new Error(
      `There is a key named ${key.id} already: remove it first, or pick another name.`,
    );
  }
  const generated = generateApiKey(key.id, key.scopes, key.description);
  return { records: [...records, generated.record], key: generated.key };
}

/** The records without the key `id`; throws when there is none. */
export function removeApiKey(records: readonly ApiKeyRecord[], id: string): ApiKeyRecord[] {
  if (!records.some((record) => record.id === id)) {
    throw new Error(
      `There is no key named ${id}; the keys are ${records.map((record) => record.id).join(", ") || "none"}.`,
    );
  }
  return records.filter((record) => record.id !== id);
}

/** The store's document as text, as the local file and the secret hold it. */
export function formatApiKeyStore(records: readonly ApiKeyRecord[]): string {
  return `${JSON.stringify({ keys: records }, null, 2)}\n`;
}

/** One API key as the store holds it: never the secret, only its hash. */
export interface ApiKeyRecord {
  id: string;
  /** `sha256:<64 hex>` of the key's secret part. */
  hash: string;
  scopes: Scope[];
  description?: string;
}

/** Who called: the key id (safe to log) and what it may do. */
export interface Caller {
  keyId: string;
  scopes: readonly Scope[];
}

const KEY_ID = /^[A-Za-z0-9_-]{1,64}$/;
const HASH = /^sha256:[0-9a-f]{64}$/;
/** Long enough that a sha256 of it cannot be brute-forced; generated secrets are 43 characters. */
export const MIN_SECRET_LENGTH = 16;

/**
 * The store's document, in Secrets Manager or in the local file:
 * `{"keys":[{"id":"ops","hash":"sha256:…","scopes":["accounts:read"]}]}`.
 */
export const apiKeyStoreSchema = z.object({
  keys: z.array(
    z.object({
      id: z.string().check(z.regex(KEY_ID)),
      hash: z.string().check(z.regex(HASH)),
      scopes: z.array(z.enum(SCOPES)),
      description: z.optional(z.string()),
    }),
  ),
});

/**
 * Parses the store's JSON text. The message names what is wrong, never
 * quotes the text (it holds hashes, which we treat as sensitive too).
 */
export function parseApiKeyStore(text: string, source: string): ApiKeyRecord[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`The API key store ${source} is not JSON.`);
  }
  const parsed = apiKeyStoreSchema.safeParse(json);
  if (!parsed.success) {
    const where = parsed.error.issues.map((issue) => issue.path.join(".") || "(root)").join(", ");
    throw new Error(
      `The API key store ${source} does not have the shape {"keys":[{"id","hash":"sha256:<hex>","scopes":[…]}]} (at ${where}).`,
    );
  }
  const seen = new Set<string>();
  for (const key of parsed.data.keys) {
    if (seen.has(key.id))
      throw new Error(`The API key store ${source} lists the key id ${key.id} twice.`);
    seen.add(key.id);
  }
  return parsed.data.keys as ApiKeyRecord[];
}

/** `<key id>.<secret>` split in two; null when the text is not in that form. */
export function splitApiKey(key: string): { id: string; secret: string } | null {
  const dot = key.indexOf(".");
  if (dot <= 0) return null;
  const id = key.slice(0, dot);
  const secret = key.slice(dot + 1);
  if (!KEY_ID.test(id) || secret.length < MIN_SECRET_LENGTH || secret.length > 256) return null;
  return { id, secret };
}

/** The stored form of a secret. sha256 is enough: secrets are random and long, not passwords. */
export function hashApiKeySecret(secret: string): string {
  return `sha256:${createHash("sha256").update(secret, "utf8").digest("hex")}`;
}

/** A new key: the plaintext to hand out once, and the record to store. */
export function generateApiKey(
  id: string,
  scopes: Scope[],
  description?: string,
): { key: string; record: ApiKeyRecord } {
  if (!KEY_ID.test(id)) throw new Error(`An API key id must match ${KEY_ID}, got "${id}".`);
  const secret = randomBytes(32).toString("base64url");
  return {
    key: `${id}.${secret}`,
    record: {
      id,
      hash: hashApiKeySecret(secret),
      scopes,
      ...(description ? { description } : {}),
    },
  };
}

const DUMMY_HASH = Buffer.alloc(32);

/**
 * The record a presented key matches, or null. The hashes are compared in
 * constant time; an unknown id still costs one hash and one comparison.
 */
export function matchApiKey(records: readonly ApiKeyRecord[], key: string): ApiKeyRecord | null {
  const parts = splitApiKey(key);
  if (!parts) return null;
  const record = records.find((candidate) => candidate.id === parts.id);
  const presented = createHash("sha256").update(parts.secret, "utf8").digest();
  const stored = record ? Buffer.from(record.hash.slice("sha256:".length), "hex") : DUMMY_HASH;
  const equal = timingSafeEqual(presented, stored);
  return record && equal ? record : null;
}

/** True when the caller holds `scope` (or admin). */
export function hasScope(caller: Caller, scope: Scope): boolean {
  return caller.scopes.includes(scope) || caller.scopes.includes("admin");
}

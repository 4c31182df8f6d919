import { wholeNumber } from "../config";

/** Where the API's keys come from. */
export interface AuthSettings {
  /** API_KEYS_SECRET_ID: the Secrets Manager secret (name or ARN). Unset means a local source. */
  secretId?: string;
  /** API_KEYS_CACHE_SECONDS (default 300, 0 to 3600), in ms. */
  cacheTtlMs: number;
}

export const DEFAULT_API_KEYS_CACHE_SECONDS = 300;

/** Reads the auth settings from an environment object; throws one sentence naming a bad setting. */
export function parseAuthSettings(env: Record<string, string | undefined>): AuthSettings {
  const secretId = env.API_KEYS_SECRET_ID?.trim() || undefined;
  const raw = env.API_KEYS_CACHE_SECONDS?.trim();
  let seconds = DEFAULT_API_KEYS_CACHE_SECONDS;
  if (raw) {
    const value = wholeNumber(raw, 0, 3600);
    if (value === undefined) {
      throw new Error(
        `API_KEYS_CACHE_SECONDS must be a whole number of seconds from 0 to 3600, got "${raw.slice(0, 20)}".`,
      );
    }
    seconds = value;
  }
  return { ...(secretId ? { secretId } : {}), cacheTtlMs: seconds * 1000 };
}

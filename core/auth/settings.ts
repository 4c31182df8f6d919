import { readNumberSetting, SETTINGS } from "../config";

/** Where the API's keys come from. */
export interface AuthSettings {
  /** API_KEYS_SECRET_ID: the Secrets Manager secret (name or ARN). Unset means a local source. */
  secretId?: string;
  /** API_KEYS_CACHE_SECONDS (default 300, 0 to 3600), in ms. */
  cacheTtlMs: number;
}

export const DEFAULT_API_KEYS_CACHE_SECONDS = SETTINGS.API_KEYS_CACHE_SECONDS.default;

/** Reads the auth settings from an environment object; a SettingError names a bad setting. */
export function parseAuthSettings(env: Record<string, string | undefined>): AuthSettings {
  const secretId = env.API_KEYS_SECRET_ID?.trim() || undefined;
  const seconds = readNumberSetting(env, "API_KEYS_CACHE_SECONDS");
  return { ...(secretId ? { secretId } : {}), cacheTtlMs: seconds * 1000 };
}

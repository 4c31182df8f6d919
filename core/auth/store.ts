import { type Clock, systemClock } from "../clock";
import type { Logger } from "../log";
import { ApiKeyStoreError } from "./errors";
import type { ApiKeyRecord } from "./keys";

/** Where API keys come from; `keys()` may be cached by the implementation. */
export interface ApiKeyStore {
  /** A sentence naming the source, for messages: `the Secrets Manager secret arn:…`. */
  readonly description: string;
  keys(): Promise<readonly ApiKeyRecord[]>;
}

export interface CachedStoreOptions {
  description: string;
  /** Reads and parses the source; throws ApiKeyStoreError (or any error) when it cannot. */
  load: () => Promise<ApiKeyRecord[]>;
  /** How long a loaded set is used before the source is read again. */
  ttlMs: number;
  /** After a failed reload, how long the last good set is kept before trying again (default 30 s). */
  retryMs?: number;
  clock?: Clock;
  logger?: Logger;
}

/** The log event of a key store that has not loaded for twice its cache time; an alarm watches it. */
export const API_KEYS_STALE_EVENT = "api_keys_stale";

/**
 * Caches a key source for `ttlMs`, so a rotated key takes effect within that
 * time without a redeploy, while requests cost no call to the source. One
 * load runs at a time; callers arriving meanwhile wait for it. When a reload
 * fails the last good set stays in use (logged) and the source is tried again
 * after `retryMs`; with no good set yet, the failure is thrown.
 *
 * Bounded staleness: once the last good load is older than twice `ttlMs`,
 * the store fails closed (every request is refused with ApiKeyStoreError)
 * until a load succeeds again, so a key removed from a source that stopped
 * loading (a malformed secret, AccessDenied) cannot keep working in warm
 * containers. Each refusal period is logged as `api_keys_stale` at error level.
 */
export function createCachedKeyStore(options: CachedStoreOptions): ApiKeyStore {
  const clock = options.clock ?? systemClock;
  const retryMs = options.retryMs ?? 30_000;
  const staleAfterMs = 2 * options.ttlMs;
  let cached: { keys: ApiKeyRecord[]; loadedAt: number; expiresAt: number } | undefined;
  /** Set while failing closed: the error to answer with until `retryAt`. */
  let stale: { error: ApiKeyStoreError; retryAt: number } | undefined;
  let loading: Promise<ApiKeyRecord[]> | undefined;

  async function reload(): Promise<ApiKeyRecord[]> {
    try {
      const keys = await options.load();
      const now = clock.now().getTime();
      cached = { keys, loadedAt: now, expiresAt: now + options.ttlMs };
      stale = undefined;
      return keys;
    } catch (error) {
      const storeError =
        error instanceof ApiKeyStoreError
          ? error
          : new ApiKeyStoreError(
              `The API keys in ${options.description} could not be read: ${(error as Error).message}`,
              { cause: error },
            );
      if (!cached) throw storeError;
      const now = clock.now().getTime();
      if (now - cached.loadedAt >= staleAfterMs) {
        const ageSeconds = Math.round((now - cached.loadedAt) / 1000);
        options.logger?.error(
          { event: API_KEYS_STALE_EVENT, age_seconds: ageSeconds, err: storeError },
          "API keys not loaded for twice their cache time: refusing every request until a load succeeds",
        );
        stale = {
          error: new ApiKeyStoreError(
            `The API keys in ${options.description} were last read ${ageSeconds} s ago, over twice their cache time; requests are refused until they load again.`,
            {
              cause: storeError,
              ...(storeError.awsError ? { awsError: storeError.awsError } : {}),
            },
          ),
          retryAt: now + retryMs,
        };
        throw stale.error;
      }
      options.logger?.error(
        { event: "api_keys_reload_failed", err: storeError },
        "API key store reload failed; using the last keys read",
      );
      // Never past the staleness bound, so that bound holds to the request.
      cached = { ...cached, expiresAt: Math.min(now + retryMs, cached.loadedAt + staleAfterMs) };
      return cached.keys;
    }
  }

  return {
    description: options.description,
    async keys() {
      const now = clock.now().getTime();
      if (stale && now < stale.retryAt) throw stale.error;
      if (!stale && cached && now < cached.expiresAt) return cached.keys;
      loading ??= reload().finally(() => {
        loading = undefined;
      });
      return loading;
    },
  };
}

/** A fixed set of keys, for tests and tools. */
export function createStaticKeyStore(keys: ApiKeyRecord[], description = "memory"): ApiKeyStore {
  return { description, keys: async () => keys };
}

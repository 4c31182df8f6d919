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

/**
 * Caches a key source for `ttlMs`, so a rotated key takes effect within that
 * time without a redeploy, while requests cost no call to the source. One
 * load runs at a time; callers arriving meanwhile wait for it. When a reload
 * fails the last good set stays in use (logged) and the source is tried again
 * after `retryMs`; with no good set yet, the failure is thrown.
 */
export function createCachedKeyStore(options: CachedStoreOptions): ApiKeyStore {
  const clock = options.clock ?? systemClock;
  const retryMs = options.retryMs ?? 30_000;
  let cached: { keys: ApiKeyRecord[]; expiresAt: number } | undefined;
  let loading: Promise<ApiKeyRecord[]> | undefined;

  async function reload(): Promise<ApiKeyRecord[]> {
    try {
      const keys = await options.load();
      cached = { keys, expiresAt: clock.now().getTime() + options.ttlMs };
      return keys;
    } catch (error) {
      const storeError =
        error instanceof ApiKeyStoreError
          ? error
          : new ApiKeyStoreError(
              `The API keys in ${options.description} could not be read: ${(error as Error).message}`,
              { cause: error },
            );
      if (cached) {
        options.logger?.error(
          { err: storeError },
          "API key store reload failed; using the last keys read",
        );
        cached = { keys: cached.keys, expiresAt: clock.now().getTime() + retryMs };
        return cached.keys;
      }
      throw storeError;
    }
  }

  return {
    description: options.description,
    async keys() {
      if (cached && clock.now().getTime() < cached.expiresAt) return cached.keys;
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

import { AuthenticationError, ForbiddenError } from "./errors";
import { type Caller, hasScope, matchApiKey, type Scope } from "./keys";
import type { ApiKeyStore } from "./store";

/** Checks `Authorization` headers against a key store. */
export interface Authenticator {
  /** The caller a header names; AuthenticationError when it names none (ApiKeyStoreError when the store is unreadable). */
  authenticate(authorization: string | undefined): Promise<Caller>;
  /** Throws ForbiddenError unless the caller holds the scope (or admin). */
  require(caller: Caller, scope: Scope): void;
}

/** An authenticator over a key store; keys arrive as `Authorization: Bearer <key id>.<secret>`. */
export function createAuthenticator(store: ApiKeyStore): Authenticator {
  return {
    async authenticate(authorization) {
      if (!authorization) {
        throw new AuthenticationError(
          "missing",
          "This request needs an API key: send it as Authorization: Bearer <key id>.<secret>.",
        );
      }
      const match = /^Bearer[ ]+(\S+)[ ]*$/i.exec(authorization);
      if (!match) {
        throw new AuthenticationError(
          "malformed",
          "The Authorization header must be Bearer <key id>.<secret>.",
        );
      }
      const record = matchApiKey(await store.keys(), match[1] as string);
      if (!record) {
        throw new AuthenticationError(
          "unknown",
          "The API key is not valid: check it, or ask an operator for a new one if it was rotated.",
        );
      }
      return { keyId: record.id, scopes: record.scopes };
    },
    require(caller, scope) {
      if (!hasScope(caller, scope)) throw new ForbiddenError(caller.keyId, scope);
    },
  };
}

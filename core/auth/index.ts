export { type Authenticator, createAuthenticator } from "./authenticator";
export { ApiKeyStoreError, AuthError, AuthenticationError, ForbiddenError } from "./errors";
export {
  type ApiKeyRecord,
  apiKeyStoreSchema,
  type Caller,
  generateApiKey,
  hashApiKeySecret,
  hasScope,
  MIN_SECRET_LENGTH,
  matchApiKey,
  parseApiKeyStore,
  SCOPES,
  type Scope,
  splitApiKey,
} from "./keys";
export {
  createSecretsManagerKeyStore,
  type SecretsManagerKeyStoreOptions,
} from "./secrets-manager";
export { type AuthSettings, DEFAULT_API_KEYS_CACHE_SECONDS, parseAuthSettings } from "./settings";
export {
  API_KEYS_STALE_EVENT,
  type ApiKeyStore,
  type CachedStoreOptions,
  createCachedKeyStore,
  createStaticKeyStore,
} from "./store";

export { type Authenticator, createAuthenticator } from "./authenticator";
export { ApiKeyStoreError, AuthError, AuthenticationError, ForbiddenError } from "./errors";
export {
  type ApiKeyRecord,
  addApiKey,
  apiKeyStoreSchema,
  type Caller,
  formatApiKeyStore,
  generateApiKey,
  hashApiKeySecret,
  hasScope,
  MIN_SECRET_LENGTH,
  matchApiKey,
  parseApiKeyStore,
  parseScopes,
  removeApiKey,
  SCOPE_DESCRIPTIONS,
  SCOPES,
  type Scope,
  splitApiKey,
} from "./keys";
export {
  createSecretsManagerKeyStore,
  readApiKeySecret,
  type SecretsManagerKeyStoreOptions,
  writeApiKeySecret,
} from "./secrets-manager";
export { type AuthSettings, DEFAULT_API_KEYS_CACHE_SECONDS, parseAuthSettings } from "./settings";
export {
  API_KEYS_STALE_EVENT,
  type ApiKeyStore,
  type CachedStoreOptions,
  createCachedKeyStore,
  createStaticKeyStore,
} from "./store";

export {
  type Cipher,
  type CipherOptions,
  createCipher,
  DEFAULT_MAX_DATA_KEY_AGE_MS,
  DEFAULT_MAX_DATA_KEY_USES,
  type DecryptOptions,
  MAX_ALLOWED_DATA_KEY_USES,
} from "./cipher";
export {
  createMemoryDataKeyStore,
  createPostgresDataKeyStore,
  type DataKeyStore,
  listDataKeys,
  type StoredDataKey,
} from "./data-keys";
export {
  CiphertextAuthenticationError,
  CryptoError,
  CryptoSettingsError,
  InvalidEncryptionInputError,
  KeyAccessDeniedError,
  KeyProviderMismatchError,
  KeyServiceThrottledError,
  KeyServiceUnavailableError,
  MalformedCiphertextError,
  UnknownDataKeyError,
  WrongMasterKeyError,
} from "./errors";
export { type CipherBinding, dataKeyIdOf, FORMAT_VERSION, isCiphertext } from "./format";
export type { GeneratedDataKey, KeyProvider, WrappedDataKey } from "./key-provider";
export {
  createKmsClient,
  createKmsKeyProvider,
  KMS_ENCRYPTION_CONTEXT,
  KMS_MAX_ATTEMPTS,
  type KmsKeyProviderOptions,
} from "./kms-keys";
export {
  createLocalKeyProvider,
  type LocalKeyProviderOptions,
  loadLocalMasterKey,
  localMasterKeyId,
} from "./local-keys";
export {
  DATA_KEY_RETIRE_MARGIN_MS,
  type EncryptedColumn,
  type RetireDataKeysResult,
  type RewrapProgress,
  type RewrapResult,
  type RotateMasterKeyResult,
  retireUnusedDataKeys,
  rewrapRows,
  rotateMasterKey,
} from "./rotation";
export { type CryptoSettings, createKeyProvider, parseCryptoSettings } from "./settings";

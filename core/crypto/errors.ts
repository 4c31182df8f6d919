import { type ErrorKind, ServiceError } from "../errors";

/**
 * Base of every encryption failure. Messages name what failed (the table,
 * column and row, the data key id, the master key id) and never carry a
 * plaintext, a ciphertext body or key material.
 */
export abstract class CryptoError extends ServiceError {}

/** A stored value that claims to be our ciphertext but cannot be parsed: truncated, re-encoded or of an unknown version. */
export class MalformedCiphertextError extends CryptoError {
  readonly kind: ErrorKind = "internal";
  constructor(message: string, options?: { cause?: unknown }) {
    super("ciphertext_malformed", message, options);
  }
}

/**
 * AES-GCM rejected the ciphertext: it was altered, or it was made for another
 * row or column (the authenticated data binds it to table, column and row id).
 */
export class CiphertextAuthenticationError extends CryptoError {
  readonly kind: ErrorKind = "internal";
  constructor(message: string, options?: { cause?: unknown }) {
    super("ciphertext_rejected", message, options);
  }
}

/** The ciphertext names a data key that is not in the data_keys table. */
export class UnknownDataKeyError extends CryptoError {
  readonly kind: ErrorKind = "internal";
  readonly dataKeyId: number;
  constructor(dataKeyId: number) {
    super(
      "data_key_unknown",
      `data key ${dataKeyId} named by the ciphertext does not exist in data_keys`,
    );
    this.dataKeyId = dataKeyId;
  }
}

/** A data key cannot be unwrapped with the configured master key(s). */
export class WrongMasterKeyError extends CryptoError {
  readonly kind: ErrorKind = "internal";
  constructor(message: string, options?: { cause?: unknown }) {
    super("master_key_mismatch", message, options);
  }
}

/** KMS refused the call (AccessDenied, disabled or missing key): a permission or configuration problem, not retried. */
export class KeyAccessDeniedError extends CryptoError {
  readonly kind: ErrorKind = "upstream_rejected";
  constructor(message: string, options?: { cause?: unknown }) {
    super("kms_access_denied", message, options);
  }
}

/** KMS kept throttling after every retry with backoff. */
export class KeyServiceThrottledError extends CryptoError {
  readonly kind: ErrorKind = "rate_limited";
  constructor(message: string, options?: { cause?: unknown }) {
    super("kms_throttled", message, options);
  }
}

/** Any other failure of the key service (network, KMS internal error). */
export class KeyServiceUnavailableError extends CryptoError {
  readonly kind: ErrorKind = "upstream_unavailable";
  constructor(message: string, options?: { cause?: unknown }) {
    super("kms_unavailable", message, options);
  }
}

/** A plaintext that cannot round-trip through UTF-8 (a lone surrogate), or a bad binding. */
export class InvalidEncryptionInputError extends CryptoError {
  readonly kind: ErrorKind = "internal";
  constructor(message: string) {
    super("encryption_input_invalid", message);
  }
}

/** A crypto setting is missing or invalid; the message is one sentence naming it. */
export class CryptoSettingsError extends CryptoError {
  readonly kind: ErrorKind = "internal";
  constructor(message: string) {
    super("crypto_settings_invalid", message);
  }
}

/**
 * The process's key provider is not the one this database's data keys are
 * wrapped with (a local master key against KMS-wrapped keys, or the reverse):
 * what it wrote could not be read by the processes that use the other one.
 */
export class KeyProviderMismatchError extends CryptoError {
  readonly kind: ErrorKind = "internal";
  constructor(message: string) {
    super("key_provider_mismatch", message);
  }
}

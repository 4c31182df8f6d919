/** A data key wrapped (encrypted) by a master key, as stored in data_keys. */
export interface WrappedDataKey {
  /** The master key that wrapped it: a KMS key ARN, or `local:<fingerprint>`. */
  masterKeyId: string;
  wrapped: Buffer;
}

/** A fresh 256-bit data key: its plaintext (kept in memory only) and its wrapped form. */
export interface GeneratedDataKey extends WrappedDataKey {
  plaintext: Buffer;
}

/**
 * Where master keys live: KMS in AWS, a local key file on a laptop. Only the
 * provider ever sees a master key; the cipher sees data keys.
 */
export interface KeyProvider {
  readonly kind: "kms" | "local";
  /** The master key new data keys are wrapped with (as configured). */
  readonly masterKeyId: string;
  /** Makes a new 256-bit data key wrapped under the current master key. */
  generateDataKey(): Promise<GeneratedDataKey>;
  /** Recovers a data key's plaintext. */
  unwrapDataKey(key: WrappedDataKey): Promise<Buffer>;
  /** Wraps the same data key again under the current master key (rotation). */
  rewrapDataKey(key: WrappedDataKey): Promise<WrappedDataKey>;
}

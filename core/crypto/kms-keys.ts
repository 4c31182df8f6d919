import {
  DecryptCommand,
  GenerateDataKeyCommand,
  KMSClient,
  type KMSClientConfig,
  ReEncryptCommand,
} from "@aws-sdk/client-kms";
import {
  KeyAccessDeniedError,
  KeyServiceThrottledError,
  KeyServiceUnavailableError,
  WrongMasterKeyError,
} from "./errors";
import type { GeneratedDataKey, KeyProvider, WrappedDataKey } from "./key-provider";
import { KMS_ENCRYPTION_CONTEXT } from "./kms-context";

export { KMS_ENCRYPTION_CONTEXT };

export interface KmsKeyProviderOptions {
  /** KMS key id, ARN or alias that wraps new data keys. */
  keyId: string;
  /** The client; tests pass one mocked with aws-sdk-client-mock. createKmsClient() when omitted. */
  client?: KMSClient;
}

/** Attempts per KMS call, the SDK's first try included. */
export const KMS_MAX_ATTEMPTS = 5;

/**
 * The KMS client the functions use. Throttling is retried by the SDK alone,
 * in its "adaptive" mode (backoff plus a client-side rate limiter that slows
 * every call of the container after a throttle); the provider below adds no
 * retries of its own, so one call makes at most KMS_MAX_ATTEMPTS requests.
 */
export function createKmsClient(overrides: KMSClientConfig = {}): KMSClient {
  return new KMSClient({ retryMode: "adaptive", maxAttempts: KMS_MAX_ATTEMPTS, ...overrides });
}

const THROTTLED = new Set([
  "ThrottlingException",
  "ThrottledException",
  "TooManyRequestsException",
]);
const DENIED = new Set([
  "AccessDeniedException",
  "NotFoundException",
  "DisabledException",
  "KMSInvalidStateException",
  "UnrecognizedClientException",
  "InvalidSignatureException",
  "ExpiredTokenException",
]);
const WRONG_KEY = new Set([
  "InvalidCiphertextException",
  "IncorrectKeyException",
  "InvalidKeyUsageException",
]);

/** The one place that talks to AWS KMS. */
export function createKmsKeyProvider(options: KmsKeyProviderOptions): KeyProvider {
  const client = options.client ?? createKmsClient();

  async function call<T>(operation: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw classify(operation, (error as { name?: string }).name ?? "Error", error);
    }
  }

  function classify(operation: string, name: string, error: unknown): Error {
    if (THROTTLED.has(name)) {
      return new KeyServiceThrottledError(
        `KMS ${operation} was throttled even after the SDK's retries (${name})`,
        { cause: error },
      );
    }
    if (DENIED.has(name)) {
      return new KeyAccessDeniedError(
        `KMS ${operation} was refused (${name}): check the key policy and this role's kms:${operation} permission`,
        { cause: error },
      );
    }
    if (WRONG_KEY.has(name)) {
      return new WrongMasterKeyError(`KMS ${operation} could not unwrap the data key (${name})`, {
        cause: error,
      });
    }
    return new KeyServiceUnavailableError(`KMS ${operation} failed (${name})`, { cause: error });
  }

  function wrappedFrom(
    blob: Uint8Array | undefined,
    keyId: string | undefined,
    operation: string,
  ): WrappedDataKey {
    if (!blob) throw new KeyServiceUnavailableError(`KMS ${operation} returned no ciphertext blob`);
    return { masterKeyId: keyId ?? options.keyId, wrapped: Buffer.from(blob) };
  }

  return {
    kind: "kms",
    masterKeyId: options.keyId,
    async generateDataKey(): Promise<GeneratedDataKey> {
      const output = await call("GenerateDataKey", () =>
        client.send(
          new GenerateDataKeyCommand({
            KeyId: options.keyId,
            KeySpec: "AES_256",
            EncryptionContext: { ...KMS_ENCRYPTION_CONTEXT },
          }),
        ),
      );
      if (output.Plaintext?.length !== 32) {
        throw new KeyServiceUnavailableError("KMS GenerateDataKey returned no 32-byte data key");
      }
      return {
        ...wrappedFrom(output.CiphertextBlob, output.KeyId, "GenerateDataKey"),
        plaintext: Buffer.from(output.Plaintext),
      };
    },
    async unwrapDataKey(key) {
      const output = await call("Decrypt", () =>
        client.send(
          new DecryptCommand({
            CiphertextBlob: key.wrapped,
            KeyId: key.masterKeyId,
            EncryptionContext: { ...KMS_ENCRYPTION_CONTEXT },
          }),
        ),
      );
      if (output.Plaintext?.length !== 32) {
        throw new KeyServiceUnavailableError("KMS Decrypt returned no 32-byte data key");
      }
      return Buffer.from(output.Plaintext);
    },
    async rewrapDataKey(key) {
      // ReEncrypt: the data key's plaintext never leaves KMS during rotation.
      const output = await call("ReEncrypt", () =>
        client.send(
          new ReEncryptCommand({
            CiphertextBlob: key.wrapped,
            SourceKeyId: key.masterKeyId,
            SourceEncryptionContext: { ...KMS_ENCRYPTION_CONTEXT },
            DestinationKeyId: options.keyId,
            DestinationEncryptionContext: { ...KMS_ENCRYPTION_CONTEXT },
          }),
        ),
      );
      return wrappedFrom(output.CiphertextBlob, output.KeyId, "ReEncrypt");
    },
  };
}

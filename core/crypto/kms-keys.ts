import {
  DecryptCommand,
  GenerateDataKeyCommand,
  KMSClient,
  ReEncryptCommand,
} from "@aws-sdk/client-kms";
import {
  KeyAccessDeniedError,
  KeyServiceThrottledError,
  KeyServiceUnavailableError,
  WrongMasterKeyError,
} from "./errors";
import type { GeneratedDataKey, KeyProvider, WrappedDataKey } from "./key-provider";

/**
 * Coarse on purpose: one data key serves many rows, so the context names only
 * the service and the purpose. Row binding happens in the AES-GCM
 * authenticated data of each ciphertext instead.
 */
export const KMS_ENCRYPTION_CONTEXT = {
  service: "securities-support",
  purpose: "data-key",
} as const;

export interface KmsKeyProviderOptions {
  /** KMS key id, ARN or alias that wraps new data keys. */
  keyId: string;
  /** The client; tests pass one mocked with aws-sdk-client-mock. Created with the SDK defaults when omitted. */
  client?: KMSClient;
  /** Attempts for a throttled call (default 5), with exponential backoff and full jitter. */
  maxAttempts?: number;
  /** First backoff in ms (default 100), doubled each retry, capped at 5 s. */
  baseDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
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
  const client = options.client ?? new KMSClient({});
  const maxAttempts = options.maxAttempts ?? 5;
  const baseDelayMs = options.baseDelayMs ?? 100;
  const sleep =
    options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));

  // Hand-rolled because it is eight lines and must classify KMS's error names;
  // the SDK's own retries still run inside each attempt.
  async function call<T>(operation: string, send: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await send();
      } catch (error) {
        const name = (error as { name?: string }).name ?? "Error";
        if (THROTTLED.has(name) && attempt < maxAttempts) {
          await sleep(Math.random() * Math.min(5000, baseDelayMs * 2 ** (attempt - 1)));
          continue;
        }
        throw classify(operation, name, attempt, error);
      }
    }
  }

  function classify(operation: string, name: string, attempts: number, error: unknown): Error {
    if (THROTTLED.has(name)) {
      return new KeyServiceThrottledError(
        `KMS ${operation} was throttled ${attempts} times in a row (${name})`,
        {
          cause: error,
        },
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

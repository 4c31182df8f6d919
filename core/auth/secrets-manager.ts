import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import type { Clock } from "../clock";
import type { Logger } from "../log";
import { ApiKeyStoreError } from "./errors";
import { type ApiKeyRecord, formatApiKeyStore, parseApiKeyStore } from "./keys";
import { type ApiKeyStore, createCachedKeyStore } from "./store";

export interface SecretsManagerKeyStoreOptions {
  /** Secret name or ARN (API_KEYS_SECRET_ID). */
  secretId: string;
  /** How long keys are cached (API_KEYS_CACHE_SECONDS), in ms. */
  ttlMs: number;
  /** Tests pass one mocked with aws-sdk-client-mock; created with the SDK defaults when omitted. */
  client?: SecretsManagerClient;
  clock?: Clock;
  logger?: Logger;
}

const DENIED = new Set([
  "AccessDeniedException",
  "AccessDenied",
  "UnrecognizedClientException",
  "ExpiredTokenException",
]);

/** The one place that reads API keys from AWS Secrets Manager (GetSecretValue, SecretString JSON). */
export function createSecretsManagerKeyStore(options: SecretsManagerKeyStoreOptions): ApiKeyStore {
  const client = options.client ?? new SecretsManagerClient({});
  const description = `the Secrets Manager secret ${options.secretId}`;
  return createCachedKeyStore({
    description,
    ttlMs: options.ttlMs,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    async load() {
      let text: string | undefined;
      try {
        const response = await client.send(
          new GetSecretValueCommand({ SecretId: options.secretId }),
        );
        text = response.SecretString;
      } catch (error) {
        const name = (error as { name?: string }).name ?? "Error";
        const hint = DENIED.has(name)
          ? " The function's role needs secretsmanager:GetSecretValue on it (and kms:Decrypt on its key when it uses a customer managed key)."
          : name === "ResourceNotFoundException"
            ? " Check API_KEYS_SECRET_ID."
            : " Try again shortly.";
        throw new ApiKeyStoreError(
          `API keys could not be read from ${description}: ${name}.${hint}`,
          {
            cause: error,
            awsError: name,
          },
        );
      }
      if (!text) throw new ApiKeyStoreError(`${description} has no SecretString value.`);
      try {
        return parseApiKeyStore(text, description);
      } catch (error) {
        throw new ApiKeyStoreError((error as Error).message);
      }
    },
  });
}

/**
 * The keys in the secret, for the operator's `npm run keys -- api …`; a
 * secret that has no value yet (as the stack creates it) holds none.
 */
export async function readApiKeySecret(
  client: SecretsManagerClient,
  secretId: string,
): Promise<ApiKeyRecord[]> {
  const description = `the Secrets Manager secret ${secretId}`;
  let text: string | undefined;
  try {
    text = (await client.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString;
  } catch (error) {
    const name = (error as { name?: string }).name;
    // No AWSCURRENT version yet: the secret was created empty.
    if (name === "ResourceNotFoundException" && /value/i.test((error as Error).message)) return [];
    throw new Error(
      `${description} could not be read: ${name ?? "Error"}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  return text?.trim() ? parseApiKeyStore(text, description) : [];
}

/** Writes the keys as the secret's new current value (the API re-reads it within its cache time). */
export async function writeApiKeySecret(
  client: SecretsManagerClient,
  secretId: string,
  records: readonly ApiKeyRecord[],
): Promise<void> {
  await client.send(
    new PutSecretValueCommand({ SecretId: secretId, SecretString: formatApiKeyStore(records) }),
  );
}

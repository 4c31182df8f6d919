import { randomBytes } from "node:crypto";
import { GenerateDataKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { mockClient } from "aws-sdk-client-mock";
import "aws-sdk-client-mock-vitest/extend";
import { afterAll, describe, expect, it } from "vitest";
import {
  createCipher,
  createKmsKeyProvider,
  createLocalKeyProvider,
  createMemoryDataKeyStore,
  KeyProviderMismatchError,
} from "../../core/crypto";

const KMS_KEY = "arn:aws:kms:ap-northeast-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const kms = mockClient(KMSClient);
afterAll(() => kms.restore());
const binding = { table: "accounts", column: "api_secret", rowId: 1 };

describe("one key provider per database", () => {
  it("a local master key refuses to write where the data keys are KMS-wrapped, saying why", async () => {
    const store = createMemoryDataKeyStore();
    await store.insert({ masterKeyId: KMS_KEY, wrapped: randomBytes(40) });
    const cipher = createCipher({
      store,
      keys: createLocalKeyProvider({ masterKey: randomBytes(32) }),
    });
    const error = await cipher.encrypt("secret", binding).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyProviderMismatchError);
    expect((error as Error).message).toBe(
      `This process encrypts with a local master key, but this database's data keys are wrapped by AWS KMS (${KMS_KEY}), so the service could not read what it wrote: set KMS_KEY_ID to that key.`,
    );
    expect(store.keys.size).toBe(1);
  });

  it("KMS refuses to write where the data keys are wrapped by a local master key, and asks KMS nothing", async () => {
    kms.reset();
    const store = createMemoryDataKeyStore();
    const local = createLocalKeyProvider({ masterKey: randomBytes(32) });
    await store.insert(await local.generateDataKey());
    const cipher = createCipher({
      store,
      keys: createKmsKeyProvider({ keyId: KMS_KEY, client: new KMSClient({}) }),
    });
    const error = await cipher.encrypt("secret", binding).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyProviderMismatchError);
    expect((error as Error).message).toMatch(
      /^This process encrypts with AWS KMS, but this database's data keys are wrapped by a local master key \(local:[0-9a-f]{16}\)/,
    );
    expect(kms).toHaveReceivedCommandTimes(GenerateDataKeyCommand, 0);
    expect(store.keys.size).toBe(1);
  });

  it("writes where the data keys are of its own kind, or where there are none yet", async () => {
    const store = createMemoryDataKeyStore();
    const masterKey = randomBytes(32);
    const first = createCipher({ store, keys: createLocalKeyProvider({ masterKey }) });
    await first.encrypt("one", binding);
    const second = createCipher({ store, keys: createLocalKeyProvider({ masterKey }) });
    expect(await second.decrypt(await second.encrypt("two", binding), binding)).toBe("two");
  });
});

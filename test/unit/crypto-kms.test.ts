import { randomBytes } from "node:crypto";
import {
  DecryptCommand,
  GenerateDataKeyCommand,
  KMSClient,
  ReEncryptCommand,
} from "@aws-sdk/client-kms";
import { mockClient } from "aws-sdk-client-mock";
import "aws-sdk-client-mock-vitest/extend";
import { beforeEach, describe, expect, it } from "vitest";
import {
  createCipher,
  createKmsKeyProvider,
  createMemoryDataKeyStore,
  KeyAccessDeniedError,
  KeyServiceThrottledError,
  KMS_ENCRYPTION_CONTEXT,
  WrongMasterKeyError,
} from "../../core/crypto";
import { fakeKms as installFakeKms } from "../support/kms";

const KEY_ID = "arn:aws:kms:ap-northeast-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const kms = mockClient(KMSClient);

function awsError(name: string): Error {
  return Object.assign(new Error(`${name} from the mock`), { name, $metadata: {} });
}

/** The shared fake KMS (test/support/kms.ts) on this file's stub. */
function fakeKms() {
  installFakeKms(kms, KEY_ID);
}

const binding = (rowId: number) => ({ table: "accounts", column: "api_secret", rowId });

describe("KMS key provider", () => {
  beforeEach(() => {
    kms.reset();
    fakeKms();
  });

  it("generates data keys with GenerateDataKey AES_256 under the configured key and the coarse context", async () => {
    const cipher = createCipher({
      store: createMemoryDataKeyStore(),
      keys: createKmsKeyProvider({ keyId: KEY_ID, client: new KMSClient({}) }),
    });
    await cipher.encrypt("secret", binding(1));
    expect(kms).toHaveReceivedCommandExactlyOnceWith(GenerateDataKeyCommand, {
      KeyId: KEY_ID,
      KeySpec: "AES_256",
      EncryptionContext: { service: "securities-support", purpose: "data-key" },
    });
    expect(KMS_ENCRYPTION_CONTEXT).toEqual({ service: "securities-support", purpose: "data-key" });
  });

  it("a burst of 1,000 reads in a new process makes one Decrypt per data key", async () => {
    const store = createMemoryDataKeyStore();
    const writer = createCipher({
      store,
      keys: createKmsKeyProvider({ keyId: KEY_ID, client: new KMSClient({}) }),
      maxDataKeyUses: 250,
    });
    const values: string[] = [];
    for (let i = 1; i <= 1000; i++) values.push(await writer.encrypt(`token-${i}`, binding(i)));
    expect(store.keys.size).toBe(4);

    kms.resetHistory();
    const reader = createCipher({
      store,
      keys: createKmsKeyProvider({ keyId: KEY_ID, client: new KMSClient({}) }),
    });
    const plaintexts = await Promise.all(
      values.map((value, i) => reader.decrypt(value, binding(i + 1))),
    );
    expect(plaintexts[999]).toBe("token-1000");
    expect(kms).toHaveReceivedCommandTimes(DecryptCommand, 4);
    expect(kms).toHaveReceivedCommandWith(DecryptCommand, {
      KeyId: KEY_ID,
      EncryptionContext: { service: "securities-support", purpose: "data-key" },
    });
    expect(kms).not.toHaveReceivedCommand(GenerateDataKeyCommand);

    await Promise.all(values.map((value, i) => reader.decrypt(value, binding(i + 1))));
    expect(kms).toHaveReceivedCommandTimes(DecryptCommand, 4);
  });

  it("concurrent first encryptions share one GenerateDataKey", async () => {
    const cipher = createCipher({
      store: createMemoryDataKeyStore(),
      keys: createKmsKeyProvider({ keyId: KEY_ID, client: new KMSClient({}) }),
    });
    await Promise.all(Array.from({ length: 50 }, (_, i) => cipher.encrypt("x", binding(i + 1))));
    expect(kms).toHaveReceivedCommandTimes(GenerateDataKeyCommand, 1);
  });

  it("a throttled call is not retried on top of the SDK: one send, then KeyServiceThrottledError", async () => {
    kms
      .on(GenerateDataKeyCommand)
      .rejectsOnce(awsError("ThrottlingException"))
      .callsFake(() => ({
        KeyId: KEY_ID,
        Plaintext: randomBytes(32),
        CiphertextBlob: Buffer.from("blob"),
      }));
    const keys = createKmsKeyProvider({ keyId: KEY_ID, client: new KMSClient({}) });
    await expect(keys.generateDataKey()).rejects.toBeInstanceOf(KeyServiceThrottledError);
    expect(kms).toHaveReceivedCommandTimes(GenerateDataKeyCommand, 1);
  });

  it("AccessDenied is surfaced at once as KeyAccessDeniedError naming the operation", async () => {
    kms.on(GenerateDataKeyCommand).rejects(awsError("AccessDeniedException"));
    const cipher = createCipher({
      store: createMemoryDataKeyStore(),
      keys: createKmsKeyProvider({ keyId: KEY_ID, client: new KMSClient({}) }),
    });
    const error = await cipher.encrypt("secret", binding(1)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyAccessDeniedError);
    expect((error as Error).message).toContain("GenerateDataKey");
    expect((error as Error).message).not.toContain("secret");
    expect(kms).toHaveReceivedCommandTimes(GenerateDataKeyCommand, 1);
  });

  it("a failed first use is not cached: the next call asks KMS again", async () => {
    kms.on(GenerateDataKeyCommand).rejectsOnce(awsError("AccessDeniedException"));
    const cipher = createCipher({
      store: createMemoryDataKeyStore(),
      keys: createKmsKeyProvider({ keyId: KEY_ID, client: new KMSClient({}) }),
    });
    await expect(cipher.encrypt("a", binding(1))).rejects.toBeInstanceOf(KeyAccessDeniedError);
    kms.on(GenerateDataKeyCommand).callsFake(() => {
      const plaintext = randomBytes(32);
      return { KeyId: KEY_ID, Plaintext: plaintext, CiphertextBlob: Buffer.from("blob") };
    });
    await expect(cipher.encrypt("a", binding(1))).resolves.toMatch(/^v1\./);
  });

  it("a wrapped key KMS cannot decrypt surfaces as WrongMasterKeyError", async () => {
    kms.on(DecryptCommand).rejects(awsError("InvalidCiphertextException"));
    const keys = createKmsKeyProvider({ keyId: KEY_ID, client: new KMSClient({}) });
    await expect(
      keys.unwrapDataKey({ masterKeyId: KEY_ID, wrapped: Buffer.from("blob") }),
    ).rejects.toBeInstanceOf(WrongMasterKeyError);
  });

  it("rotation re-wraps with ReEncrypt from the stored key to the configured key", async () => {
    const newKey = "alias/securities-support-2";
    kms
      .on(ReEncryptCommand)
      .resolves({ KeyId: `${KEY_ID}-2`, CiphertextBlob: Buffer.from("rewrapped") });
    const keys = createKmsKeyProvider({ keyId: newKey, client: new KMSClient({}) });
    const result = await keys.rewrapDataKey({ masterKeyId: KEY_ID, wrapped: Buffer.from("blob") });
    expect(result).toEqual({ masterKeyId: `${KEY_ID}-2`, wrapped: Buffer.from("rewrapped") });
    expect(kms).toHaveReceivedCommandExactlyOnceWith(ReEncryptCommand, {
      SourceKeyId: KEY_ID,
      DestinationKeyId: newKey,
      SourceEncryptionContext: { service: "securities-support", purpose: "data-key" },
      DestinationEncryptionContext: { service: "securities-support", purpose: "data-key" },
    });
  });
});

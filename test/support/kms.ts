import { randomBytes } from "node:crypto";
import {
  DecryptCommand,
  GenerateDataKeyCommand,
  type KMSClientResolvedConfig,
  type ServiceInputTypes,
  type ServiceOutputTypes,
} from "@aws-sdk/client-kms";
import type { AwsStub } from "aws-sdk-client-mock";

const WRAPPED = Buffer.from("wrapped:");

/**
 * A fake KMS on an aws-sdk-client-mock stub of KMSClient (the AWS boundary,
 * nothing of ours): GenerateDataKey hands out a random key whose wrapped
 * blob is "wrapped:" + the key, so Decrypt can give it back. Used by the
 * tests and the API bench.
 */
export function fakeKms(
  kms: AwsStub<ServiceInputTypes, ServiceOutputTypes, KMSClientResolvedConfig>,
  keyId: string,
): void {
  kms.on(GenerateDataKeyCommand).callsFake(() => {
    const plaintext = randomBytes(32);
    return {
      KeyId: keyId,
      Plaintext: plaintext,
      CiphertextBlob: Buffer.concat([WRAPPED, plaintext]),
    };
  });
  kms.on(DecryptCommand).callsFake((input: { CiphertextBlob: Uint8Array }) => ({
    KeyId: keyId,
    Plaintext: Buffer.from(input.CiphertextBlob).subarray(WRAPPED.length),
  }));
}

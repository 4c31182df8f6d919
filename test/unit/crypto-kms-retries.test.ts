import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createKmsClient, createKmsKeyProvider, KeyServiceThrottledError } from "../../core/crypto";

const KEY_ID = "arn:aws:kms:ap-northeast-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/** The HTTP boundary under the SDK: KMS answering every request with a throttle. */
function throttlingKms() {
  let requests = 0;
  const client = createKmsClient({
    // Two attempts keep the SDK's throttling backoff (500 ms and up) short here.
    maxAttempts: 2,
    region: "ap-northeast-2",
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "not-a-secret" },
    requestHandler: {
      async handle() {
        requests++;
        const body = JSON.stringify({ __type: "ThrottlingException", message: "Rate exceeded" });
        return {
          response: {
            statusCode: 400,
            headers: { "content-type": "application/x-amz-json-1.1" },
            body: Readable.from([Buffer.from(body)]),
          },
        };
      },
    },
  });
  return { client, requests: () => requests };
}

describe("KMS retries", () => {
  it("the functions' client retries throttling in the SDK's adaptive mode", async () => {
    const client = createKmsClient({ region: "ap-northeast-2" });
    expect(client.config.retryMode).toBe("adaptive");
    expect(await client.config.maxAttempts()).toBe(5);
  });

  it("a call that KMS keeps throttling makes the client's attempts and no more, then KeyServiceThrottledError", async () => {
    const kms = throttlingKms();
    const keys = createKmsKeyProvider({ keyId: KEY_ID, client: kms.client });
    const error = await keys.generateDataKey().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyServiceThrottledError);
    expect((error as Error).message).toContain("GenerateDataKey");
    expect(kms.requests()).toBe(2);
  });
});

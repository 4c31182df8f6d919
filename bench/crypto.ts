/**
 * `npm run bench -- crypto [iterations]`: per-operation cost of our envelope
 * encryption with a cached data key, next to the AWS Encryption SDK (raw AES
 * keyring, its non-signing committing suite) doing the same work in the same
 * run, and the ciphertext overhead. No database: the data key store is in
 * memory (a cached data key makes no database or KMS call anyway).
 */
import { randomBytes } from "node:crypto";
import {
  AlgorithmSuiteIdentifier,
  buildClient,
  CommitmentPolicy,
  RawAesKeyringNode,
  RawAesWrappingSuiteIdentifier,
} from "@aws-crypto/client-node";
import { createCipher, createLocalKeyProvider, createMemoryDataKeyStore } from "../core/crypto";

// The seed's securities_config example, the value this service encrypts most.
const PLAINTEXT = JSON.stringify({
  account_number: "12345678",
  product_code: "01",
  market_type: "DOMESTIC_STOCK",
  cert_password: "cert-password-1",
  additional_params: {},
  environment: "real",
});
const BINDING = { table: "accounts", column: "securities_config", rowId: 12345 };
const CONTEXT = { table: "accounts", column: "securities_config", row: "12345" };

async function perOpMicros(iterations: number, op: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < Math.min(1000, iterations); i++) await op();
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) await op();
  return Number(process.hrtime.bigint() - start) / 1000 / iterations;
}

const round = (value: number, digits = 2) => Number(value.toFixed(digits));

export async function main(args: string[]): Promise<void> {
  const iterations = Number(args[0] ?? 20_000);
  const cipher = createCipher({
    store: createMemoryDataKeyStore(),
    keys: createLocalKeyProvider({ masterKey: randomBytes(32) }),
  });
  const ciphertext = await cipher.encrypt(PLAINTEXT, BINDING);

  const { encrypt, decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
  const keyring = new RawAesKeyringNode({
    keyName: "bench",
    keyNamespace: "securities-support",
    unencryptedMasterKey: randomBytes(32),
    wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
  });
  const suiteId = AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY;
  const esdkMessage = (await encrypt(keyring, PLAINTEXT, { encryptionContext: CONTEXT, suiteId }))
    .result;
  const esdkIterations = Math.max(200, Math.floor(iterations / 20));

  const encryptUs = await perOpMicros(iterations, () => cipher.encrypt(PLAINTEXT, BINDING));
  const decryptUs = await perOpMicros(iterations, () => cipher.decrypt(ciphertext, BINDING));
  const esdkEncryptUs = await perOpMicros(esdkIterations, () =>
    encrypt(keyring, PLAINTEXT, { encryptionContext: CONTEXT, suiteId }),
  );
  const esdkDecryptUs = await perOpMicros(esdkIterations, () => decrypt(keyring, esdkMessage));

  const plaintextBytes = Buffer.byteLength(PLAINTEXT);
  const overhead = ciphertext.length - plaintextBytes;
  const esdkOverhead = esdkMessage.toString("base64").length - plaintextBytes;
  console.log(
    `plaintext: ${plaintextBytes} bytes (securities_config JSON); ${iterations} ops ours, ${esdkIterations} ESDK`,
  );
  console.log(
    `ours  encrypt ${round(encryptUs)} µs/op  decrypt ${round(decryptUs)} µs/op  overhead ${overhead} chars`,
  );
  console.log(
    `ESDK  encrypt ${round(esdkEncryptUs)} µs/op  decrypt ${round(esdkDecryptUs)} µs/op  overhead ${esdkOverhead} chars (base64 message)`,
  );
  console.log("overhead by plaintext size (ours: 43 fixed + base64 expansion of a third):");
  for (const size of [0, 36, 64, 128, 180, 350]) {
    const value = "a".repeat(size);
    const sample = await cipher.encrypt(value, BINDING);
    const esdk = (await encrypt(keyring, value, { encryptionContext: CONTEXT, suiteId })).result;
    console.log(
      `  ${String(size).padStart(4)} bytes: ours +${sample.length - size}, ESDK +${esdk.toString("base64").length - size}`,
    );
  }
  console.log(
    JSON.stringify({
      bench: "crypto",
      decrypt_us: round(decryptUs),
      encrypt_us: round(encryptUs),
      esdk_decrypt_us: round(esdkDecryptUs),
      speedup: round(esdkDecryptUs / decryptUs, 1),
      overhead_bytes: overhead,
    }),
  );
}

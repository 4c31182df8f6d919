import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  CiphertextAuthenticationError,
  CryptoError,
  CryptoSettingsError,
  createCipher,
  createKeyProvider,
  createLocalKeyProvider,
  createMemoryDataKeyStore,
  DEFAULT_MAX_DATA_KEY_USES,
  dataKeyIdOf,
  InvalidEncryptionInputError,
  isCiphertext,
  MalformedCiphertextError,
  parseCryptoSettings,
  UnknownDataKeyError,
  WrongMasterKeyError,
} from "../../core/crypto";

const binding = { table: "accounts", column: "api_secret", rowId: 7 };

function localCipher(options: { maxDataKeyUses?: number; now?: () => Date } = {}) {
  const store = createMemoryDataKeyStore();
  const keys = createLocalKeyProvider({ masterKey: randomBytes(32) });
  const cipher = createCipher({
    store,
    keys,
    ...(options.maxDataKeyUses ? { maxDataKeyUses: options.maxDataKeyUses } : {}),
    ...(options.now ? { clock: { now: options.now } } : {}),
  });
  return { store, keys, cipher };
}

describe("cipher", () => {
  it("round-trips arbitrary Unicode plaintexts of any size", async () => {
    const { cipher } = localCipher();
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: "binary", maxLength: 2000 }),
        fc.integer({ min: 1, max: 2 ** 31 }),
        async (plaintext, rowId) => {
          const ciphertext = await cipher.encrypt(plaintext, { ...binding, rowId });
          expect(isCiphertext(ciphertext)).toBe(true);
          expect(await cipher.decrypt(ciphertext, { ...binding, rowId })).toBe(plaintext);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("ciphertext overhead is 43 characters plus the base64 expansion of the plaintext", async () => {
    const { cipher } = localCipher();
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: "binary", maxLength: 500 }), async (plaintext) => {
        const bytes = Buffer.byteLength(plaintext);
        const ciphertext = await cipher.encrypt(plaintext, binding);
        expect(ciphertext.length).toBe(5 + Math.ceil(((28 + bytes) * 4) / 3));
      }),
    );
    expect((await cipher.encrypt("", binding)).length).toBe(43);
  });

  it("the same plaintext encrypts differently every time", async () => {
    const { cipher } = localCipher();
    expect(await cipher.encrypt("same", binding)).not.toBe(await cipher.encrypt("same", binding));
  });

  it("a ciphertext decrypted with another table, column or row fails with CiphertextAuthenticationError", async () => {
    const { cipher } = localCipher();
    const ciphertext = await cipher.encrypt("app-secret", binding);
    for (const other of [
      { ...binding, rowId: 8 },
      { ...binding, column: "api_key" },
      { ...binding, table: "securities_tokens" },
    ]) {
      await expect(cipher.decrypt(ciphertext, other)).rejects.toBeInstanceOf(
        CiphertextAuthenticationError,
      );
    }
  });

  it("changing any single character of a ciphertext makes it fail with a crypto error", async () => {
    const { cipher } = localCipher();
    await cipher.encrypt("first key", binding);
    const ciphertext = await cipher.encrypt("app-secret-value", binding);
    const alphabet = "v0123456789.ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_";
    for (let i = 0; i < ciphertext.length; i++) {
      for (const replacement of [
        alphabet[(alphabet.indexOf(ciphertext[i] as string) + 1) % alphabet.length],
        "~",
      ]) {
        const altered = ciphertext.slice(0, i) + replacement + ciphertext.slice(i + 1);
        const error = await cipher.decrypt(altered, binding).catch((e: unknown) => e);
        expect(error, `position ${i}`).toBeInstanceOf(CryptoError);
        expect((error as Error).message).not.toContain("app-secret-value");
      }
    }
  });

  it("a truncated ciphertext fails as malformed", async () => {
    const { cipher } = localCipher();
    const ciphertext = await cipher.encrypt("app-secret-value", binding);
    for (const cut of [3, 5, 20, ciphertext.length - 1]) {
      const error = await cipher
        .decrypt(ciphertext.slice(0, cut), binding)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CryptoError);
    }
    await expect(cipher.decrypt(ciphertext.slice(0, 20), binding)).rejects.toBeInstanceOf(
      MalformedCiphertextError,
    );
    await expect(cipher.decrypt("v2.1.AAAA", binding)).rejects.toThrow(
      /unsupported format version v2/,
    );
  });

  it("legacy plaintext is returned as it is only where the caller allows it", async () => {
    const { cipher } = localCipher();
    expect(isCiphertext("UPBITKEY0123456789abcdef")).toBe(false);
    expect(
      await cipher.decrypt("UPBITKEY0123456789abcdef", binding, { allowLegacyPlaintext: true }),
    ).toBe("UPBITKEY0123456789abcdef");
    await expect(cipher.decrypt("UPBITKEY0123456789abcdef", binding)).rejects.toBeInstanceOf(
      CiphertextAuthenticationError,
    );
  });

  it("a ciphertext naming a data key that does not exist fails with UnknownDataKeyError", async () => {
    const { cipher } = localCipher();
    const ciphertext = await cipher.encrypt("x", binding);
    const other = ciphertext.replace(/^v1\.1\./, "v1.99.");
    await expect(cipher.decrypt(other, binding)).rejects.toBeInstanceOf(UnknownDataKeyError);
  });

  it("data keys from another master key fail with WrongMasterKeyError", async () => {
    const { store, cipher } = localCipher();
    const ciphertext = await cipher.encrypt("x", binding);
    const stranger = createCipher({
      store,
      keys: createLocalKeyProvider({ masterKey: randomBytes(32) }),
    });
    await expect(stranger.decrypt(ciphertext, binding)).rejects.toBeInstanceOf(WrongMasterKeyError);
  });

  it("a new data key is made after maxDataKeyUses encryptions", async () => {
    const { store, cipher } = localCipher({ maxDataKeyUses: 3 });
    const ids: Array<number | undefined> = [];
    for (let i = 0; i < 7; i++) ids.push(dataKeyIdOf(await cipher.encrypt("x", binding)));
    expect(ids).toEqual([1, 1, 1, 2, 2, 2, 3]);
    expect(store.keys.size).toBe(3);
  });

  it("a new data key is made once the current one is older than maxDataKeyAgeMs", async () => {
    let now = Date.parse("2025-01-01T00:00:00Z");
    const store = createMemoryDataKeyStore();
    const cipher = createCipher({
      store,
      keys: createLocalKeyProvider({ masterKey: randomBytes(32) }),
      clock: { now: () => new Date(now) },
      maxDataKeyAgeMs: 60_000,
    });
    const first = dataKeyIdOf(await cipher.encrypt("x", binding));
    now += 59_000;
    expect(dataKeyIdOf(await cipher.encrypt("x", binding))).toBe(first);
    now += 1_000;
    expect(dataKeyIdOf(await cipher.encrypt("x", binding))).toBe((first ?? 0) + 1);
  });

  it("rejects plaintexts with lone surrogates and bindings that are not identifiers", async () => {
    const { cipher } = localCipher();
    await expect(cipher.encrypt("a\uD800b", binding)).rejects.toBeInstanceOf(
      InvalidEncryptionInputError,
    );
    await expect(cipher.encrypt("a", { ...binding, rowId: 0 })).rejects.toBeInstanceOf(
      InvalidEncryptionInputError,
    );
    await expect(cipher.encrypt("a", { ...binding, table: "accounts|x" })).rejects.toBeInstanceOf(
      InvalidEncryptionInputError,
    );
  });
});

describe("local key provider", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it("creates DATA_DIR/master.key with mode 0600 on first use and reuses it after", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "crypto-test-"));
    dirs.push(dataDir);
    const first = await createKeyProvider(parseCryptoSettings({ DATA_DIR: dataDir }));
    const info = await stat(join(dataDir, "master.key"));
    expect(info.mode & 0o777).toBe(0o600);
    expect(
      Buffer.from((await readFile(join(dataDir, "master.key"), "utf8")).trim(), "base64"),
    ).toHaveLength(32);
    const second = await createKeyProvider(parseCryptoSettings({ DATA_DIR: dataDir }));
    expect(second.masterKeyId).toBe(first.masterKeyId);
    const generated = await first.generateDataKey();
    expect(await second.unwrapDataKey(generated)).toEqual(generated.plaintext);
  });

  it("refuses a master key file other users can read", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "crypto-test-"));
    dirs.push(dataDir);
    await writeFile(join(dataDir, "master.key"), randomBytes(32).toString("base64"), {
      mode: 0o644,
    });
    await expect(createKeyProvider(parseCryptoSettings({ DATA_DIR: dataDir }))).rejects.toThrow(
      /chmod 600/,
    );
  });

  it("unwraps data keys of a previous master key and re-wraps them under the current one", async () => {
    const oldKey = randomBytes(32);
    const old = createLocalKeyProvider({ masterKey: oldKey });
    const generated = await old.generateDataKey();
    const current = createLocalKeyProvider({
      masterKey: randomBytes(32),
      previousMasterKeys: [oldKey],
    });
    const rewrapped = await current.rewrapDataKey(generated);
    expect(rewrapped.masterKeyId).toBe(current.masterKeyId);
    expect(await current.unwrapDataKey(rewrapped)).toEqual(generated.plaintext);
    await expect(old.unwrapDataKey(rewrapped)).rejects.toBeInstanceOf(WrongMasterKeyError);
  });

  it("master key ids are fingerprints that do not contain the key", () => {
    const key = randomBytes(32);
    const id = createLocalKeyProvider({ masterKey: key }).masterKeyId;
    expect(id).toMatch(/^local:[0-9a-f]{16}$/);
    expect(id).not.toContain(key.toString("hex").slice(0, 16));
  });
});

describe("crypto settings", () => {
  it("chooses KMS when KMS_KEY_ID is set and local otherwise, with safe defaults", () => {
    expect(parseCryptoSettings({ KMS_KEY_ID: "alias/x" })).toMatchObject({
      provider: "kms",
      kmsKeyId: "alias/x",
    });
    expect(parseCryptoSettings({})).toMatchObject({
      provider: "local",
      dataDir: ".data",
      maxDataKeyAgeMs: 86_400_000,
      maxDataKeyUses: DEFAULT_MAX_DATA_KEY_USES,
    });
  });

  it("reads LOCAL_MASTER_KEY and the data key bounds", () => {
    const key = randomBytes(32);
    const settings = parseCryptoSettings({
      LOCAL_MASTER_KEY: key.toString("base64"),
      DATA_KEY_MAX_AGE_SECONDS: "3600",
      DATA_KEY_MAX_USES: "1000",
    });
    expect(settings.localMasterKey).toEqual(key);
    expect(settings.maxDataKeyAgeMs).toBe(3_600_000);
    expect(settings.maxDataKeyUses).toBe(1000);
  });

  it("names the setting that is wrong in one sentence", () => {
    expect(() => parseCryptoSettings({ LOCAL_MASTER_KEY: "c2hvcnQ=" })).toThrow(
      CryptoSettingsError,
    );
    expect(() => parseCryptoSettings({ LOCAL_MASTER_KEY: "c2hvcnQ=" })).toThrow(
      /^LOCAL_MASTER_KEY must be/,
    );
    expect(() => parseCryptoSettings({ DATA_KEY_MAX_USES: "5000000000" })).toThrow(
      /^DATA_KEY_MAX_USES must be/,
    );
    expect(() => parseCryptoSettings({ DATA_KEY_MAX_AGE_SECONDS: "soon" })).toThrow(
      /^DATA_KEY_MAX_AGE_SECONDS/,
    );
  });
});

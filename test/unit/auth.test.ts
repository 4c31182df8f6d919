import { describe, expect, test } from "vitest";
import {
  AuthenticationError,
  createAuthenticator,
  createStaticKeyStore,
  ForbiddenError,
  generateApiKey,
  hashApiKeySecret,
  matchApiKey,
  parseApiKeyStore,
  parseAuthSettings,
  splitApiKey,
} from "../../core/auth";

const reader = generateApiKey("reader", ["accounts:read"]);
const admin = generateApiKey("ops", ["admin"]);
const records = [reader.record, admin.record];

describe("API keys", () => {
  test("a generated key is <id>.<secret> and only its hash is in the record", () => {
    const parts = splitApiKey(reader.key);
    expect(parts?.id).toBe("reader");
    expect(reader.record.hash).toBe(hashApiKeySecret(parts?.secret as string));
    expect(JSON.stringify(reader.record)).not.toContain(parts?.secret);
  });

  test("the right key matches its record", () => {
    expect(matchApiKey(records, reader.key)?.id).toBe("reader");
  });

  test("a wrong secret for a known id does not match", () => {
    const [id] = reader.key.split(".");
    expect(matchApiKey(records, `${id}.${"x".repeat(43)}`)).toBeNull();
  });

  test("another key's secret under a known id does not match", () => {
    const secret = admin.key.split(".")[1];
    expect(matchApiKey(records, `reader.${secret}`)).toBeNull();
  });

  test.each([
    "",
    "noid",
    ".secretsecretsecretsecret",
    "id.short",
    "bad id.secretsecretsecretsecret",
  ])("the malformed key %j matches nothing", (key) => {
    expect(matchApiKey(records, key)).toBeNull();
  });

  test("a store document with a duplicate id is refused without quoting it", () => {
    const text = JSON.stringify({ keys: [reader.record, reader.record] });
    expect(() => parseApiKeyStore(text, "the test store")).toThrow(/lists the key id reader twice/);
  });

  test("a store document of the wrong shape is refused naming where, not what", () => {
    const text = JSON.stringify({ keys: [{ id: "x", hash: "plaintext-secret", scopes: [] }] });
    let message = "";
    try {
      parseApiKeyStore(text, "the test store");
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain("keys.0.hash");
    expect(message).not.toContain("plaintext-secret");
  });

  test("text that is not JSON is refused without quoting it", () => {
    expect(() => parseApiKeyStore("secret-value{", "the test store")).toThrow(
      "The API key store the test store is not JSON.",
    );
  });
});

describe("the authenticator", () => {
  const auth = createAuthenticator(createStaticKeyStore(records));

  test("a Bearer key names its caller and scopes", async () => {
    expect(await auth.authenticate(`Bearer ${reader.key}`)).toEqual({
      keyId: "reader",
      scopes: ["accounts:read"],
    });
  });

  test.each([
    [undefined, "missing"],
    ["Basic abc", "malformed"],
    ["Bearer", "malformed"],
    [`Bearer ${reader.key.slice(0, -1)}x`, "unknown"],
  ])("the header %j is refused as %s", async (header, reason) => {
    const error = await auth.authenticate(header).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect((error as AuthenticationError).reason).toBe(reason);
  });

  test("a caller without the scope is forbidden, and admin holds every scope", () => {
    expect(() =>
      auth.require({ keyId: "reader", scopes: ["accounts:read"] }, "tokens:read"),
    ).toThrow(ForbiddenError);
    expect(() => auth.require({ keyId: "ops", scopes: ["admin"] }, "tokens:read")).not.toThrow();
  });
});

describe("auth settings", () => {
  test("defaults to a 300 s cache and no secret", () => {
    expect(parseAuthSettings({})).toEqual({ cacheTtlMs: 300_000 });
  });

  test("reads the secret id and cache seconds", () => {
    expect(
      parseAuthSettings({ API_KEYS_SECRET_ID: "api-keys", API_KEYS_CACHE_SECONDS: "60" }),
    ).toEqual({
      secretId: "api-keys",
      cacheTtlMs: 60_000,
    });
  });

  test("a bad cache setting is one sentence naming it", () => {
    expect(() => parseAuthSettings({ API_KEYS_CACHE_SECONDS: "five" })).toThrow(
      /^API_KEYS_CACHE_SECONDS must be/,
    );
  });
});

import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { mockClient } from "aws-sdk-client-mock";
import "aws-sdk-client-mock-vitest/extend";
import { beforeEach, describe, expect, test } from "vitest";
import { type ApiTokenService, createApp } from "../../core/api";
import {
  API_KEYS_STALE_EVENT,
  ApiKeyStoreError,
  createAuthenticator,
  createSecretsManagerKeyStore,
  generateApiKey,
} from "../../core/auth";
import type { Cipher } from "../../core/crypto";
import type { Sql } from "../../core/db";
import type { BrokerGateway } from "../../core/gateway";
import { createLogger } from "../../core/log";
import { apiKeysStaleFilter } from "../../infra/alarm-rules";
import { manualClock } from "../support/sandbox";

const SECRET_ID = "arn:aws:secretsmanager:ap-northeast-2:111122223333:secret:api-keys-AbCdEf";
const secretsManager = mockClient(SecretsManagerClient);

function awsError(name: string): Error {
  return Object.assign(new Error(`${name} from the mock`), { name, $metadata: {} });
}

function secretOf(...keys: ReturnType<typeof generateApiKey>[]) {
  return { SecretString: JSON.stringify({ keys: keys.map((key) => key.record) }) };
}

/** A real JSON logger whose lines the test reads back. */
function capturedLog() {
  const written: string[] = [];
  const logger = createLogger({
    level: "debug",
    destination: { write: (line) => written.push(line) },
  });
  const lines = () => written.map((line) => JSON.parse(line) as Record<string, unknown>);
  return {
    logger,
    text: () => written.join(""),
    lines,
    events: () => lines().map((line) => line.event),
  };
}

beforeEach(() => {
  secretsManager.reset();
});

function store(clock = manualClock(new Date("2026-01-01T00:00:00Z"))) {
  return {
    clock,
    keys: createSecretsManagerKeyStore({
      secretId: SECRET_ID,
      ttlMs: 300_000,
      client: new SecretsManagerClient({ region: "ap-northeast-2" }),
      clock,
    }),
  };
}

describe("API keys from Secrets Manager", () => {
  test("reads the secret named by its id, once while the cache is fresh", async () => {
    const key = generateApiKey("ops", ["admin"]);
    secretsManager.on(GetSecretValueCommand).resolves(secretOf(key));
    const { keys, clock } = store();
    const auth = createAuthenticator(keys);
    await auth.authenticate(`Bearer ${key.key}`);
    clock.advance(299_000);
    await Promise.all([1, 2, 3].map(() => auth.authenticate(`Bearer ${key.key}`)));
    expect(secretsManager).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
    expect(secretsManager).toHaveReceivedCommandWith(GetSecretValueCommand, {
      SecretId: SECRET_ID,
    });
  });

  test("a rotated key takes effect once the cache expires, and the old key stops working", async () => {
    const before = generateApiKey("ops", ["admin"]);
    const after = generateApiKey("ops", ["admin"]);
    secretsManager
      .on(GetSecretValueCommand)
      .resolvesOnce(secretOf(before))
      .resolves(secretOf(after));
    const { keys, clock } = store();
    const auth = createAuthenticator(keys);
    expect((await auth.authenticate(`Bearer ${before.key}`)).keyId).toBe("ops");
    clock.advance(60_000);
    await expect(auth.authenticate(`Bearer ${after.key}`)).rejects.toThrow(/not valid/);
    clock.advance(241_000);
    expect((await auth.authenticate(`Bearer ${after.key}`)).keyId).toBe("ops");
    await expect(auth.authenticate(`Bearer ${before.key}`)).rejects.toThrow(/not valid/);
    expect(secretsManager).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
  });

  test("AccessDenied is a clear error naming the secret and the permission, never its contents", async () => {
    secretsManager.on(GetSecretValueCommand).rejects(awsError("AccessDeniedException"));
    const { keys } = store();
    const error = await keys.keys().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiKeyStoreError);
    expect((error as ApiKeyStoreError).awsError).toBe("AccessDeniedException");
    expect((error as Error).message).toContain(SECRET_ID);
    expect((error as Error).message).toContain("secretsmanager:GetSecretValue");
  });

  test("a request while the secret is denied is a generic 503; the ARN, account and IAM hint go only to the log", async () => {
    secretsManager.on(GetSecretValueCommand).rejects(awsError("AccessDeniedException"));
    const { keys } = store();
    const log = capturedLog();
    const app = createApp({
      sql: {} as Sql,
      cipher: {} as Cipher,
      tokens: {} as ApiTokenService,
      gateway: {} as BrokerGateway,
      auth: createAuthenticator(keys),
      logger: log.logger,
    });
    const response = await app.request("/accounts", {
      headers: { authorization: "Bearer ops.aaaaaaaaaaaaaaaaaaaa" },
    });
    expect(response.status).toBe(503);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    const text = await response.text();
    for (const leak of [
      SECRET_ID,
      "111122223333",
      "arn:",
      "secretsmanager:",
      "AccessDenied",
      "kms:",
    ]) {
      expect(text).not.toContain(leak);
    }
    expect(JSON.parse(text)).toMatchObject({ code: "api_key_store_unavailable" });
    expect(log.text()).toContain(SECRET_ID);
    expect(log.text()).toContain("AccessDeniedException");
  });

  test("after twice the cache time without a successful load it fails closed for every key, logging api_keys_stale", async () => {
    const key = generateApiKey("ops", ["admin"]);
    secretsManager
      .on(GetSecretValueCommand)
      .resolvesOnce(secretOf(key))
      .rejects(awsError("AccessDeniedException"));
    const clock = manualClock(new Date("2026-01-01T00:00:00Z"));
    const log = capturedLog();
    const keys = createSecretsManagerKeyStore({
      secretId: SECRET_ID,
      ttlMs: 300_000,
      client: new SecretsManagerClient({ region: "ap-northeast-2" }),
      clock,
      logger: log.logger,
    });
    const auth = createAuthenticator(keys);
    await auth.authenticate(`Bearer ${key.key}`);
    // Inside twice the cache time the last keys read still serve.
    clock.advance(301_000);
    expect((await auth.authenticate(`Bearer ${key.key}`)).keyId).toBe("ops");
    clock.advance(290_000);
    expect((await auth.authenticate(`Bearer ${key.key}`)).keyId).toBe("ops");
    expect(log.events()).not.toContain(API_KEYS_STALE_EVENT);
    // Past it, nobody gets in, and the alarm's line is written.
    clock.advance(10_000);
    await expect(auth.authenticate(`Bearer ${key.key}`)).rejects.toBeInstanceOf(ApiKeyStoreError);
    await expect(auth.authenticate(`Bearer ${key.key}`)).rejects.toBeInstanceOf(ApiKeyStoreError);
    expect(log.events()).toContain(API_KEYS_STALE_EVENT);
    const staleLine = log.lines().find((line) => line.event === API_KEYS_STALE_EVENT);
    expect(staleLine?.level).toBe("error");
    // The alarm's metric filter matches that line.
    expect(apiKeysStaleFilter("prod").pattern).toBe(`{ $.event = "${API_KEYS_STALE_EVENT}" }`);
    // Once the secret loads again, so do the keys.
    secretsManager.on(GetSecretValueCommand).resolves(secretOf(key));
    clock.advance(31_000);
    expect((await auth.authenticate(`Bearer ${key.key}`)).keyId).toBe("ops");
  });

  test("while failing closed the secret is read again only every retry period, not per request", async () => {
    const key = generateApiKey("ops", ["admin"]);
    secretsManager
      .on(GetSecretValueCommand)
      .resolvesOnce(secretOf(key))
      .rejects(awsError("AccessDeniedException"));
    const { keys, clock } = store();
    await keys.keys();
    clock.advance(600_000);
    for (let i = 0; i < 5; i++) await expect(keys.keys()).rejects.toBeInstanceOf(ApiKeyStoreError);
    expect(secretsManager).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
  });

  test("a failed reload keeps the last keys read and tries again later", async () => {
    const key = generateApiKey("ops", ["admin"]);
    secretsManager
      .on(GetSecretValueCommand)
      .resolvesOnce(secretOf(key))
      .rejectsOnce(awsError("InternalServiceError"))
      .resolves(secretOf(key));
    const { keys, clock } = store();
    const auth = createAuthenticator(keys);
    await auth.authenticate(`Bearer ${key.key}`);
    clock.advance(301_000);
    expect((await auth.authenticate(`Bearer ${key.key}`)).keyId).toBe("ops");
    clock.advance(31_000);
    await auth.authenticate(`Bearer ${key.key}`);
    expect(secretsManager).toHaveReceivedCommandTimes(GetSecretValueCommand, 3);
  });

  test("a secret that is not the key document is refused without quoting it", async () => {
    secretsManager
      .on(GetSecretValueCommand)
      .resolves({ SecretString: '{"password":"hunter2-secret"}' });
    const { keys } = store();
    const error = (await keys.keys().catch((caught: unknown) => caught)) as Error;
    expect(error).toBeInstanceOf(ApiKeyStoreError);
    expect(error.message).not.toContain("hunter2");
  });
});

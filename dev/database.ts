import { join } from "node:path";
import { createSql } from "../core/db";
import { startEmbeddedPostgres } from "./embedded-postgres";

export interface DevDatabase {
  url: string;
  /** "external" when DATABASE_URL was given, else "embedded". */
  kind: "external" | "embedded";
  stop(): Promise<void>;
}

const DATABASE_NAME = "securities_support";

/**
 * The database for local commands: DATABASE_URL when set, otherwise an
 * embedded Postgres whose cluster lives in `<dataDir>/pg` and keeps its data
 * between runs, with a `securities_support` database created on first use.
 */
export async function openDevDatabase(options: {
  databaseUrl?: string;
  dataDir: string;
  port?: number;
}): Promise<DevDatabase> {
  if (options.databaseUrl) {
    checkDatabaseUrl(options.databaseUrl);
    return { url: options.databaseUrl, kind: "external", stop: async () => {} };
  }
  const server = await startEmbeddedPostgres({
    dataDir: join(options.dataDir, "pg"),
    ...(options.port ? { port: options.port } : {}),
  });
  const admin = createSql(server.url, { max: 1 });
  try {
    const [exists] = await admin`SELECT 1 FROM pg_database WHERE datname = ${DATABASE_NAME}`;
    if (!exists) await admin.unsafe(`CREATE DATABASE ${DATABASE_NAME}`);
  } finally {
    await admin.end();
  }
  const url = new URL(server.url);
  url.pathname = `/${DATABASE_NAME}`;
  return { url: url.toString(), kind: "embedded", stop: server.stop };
}

/**
 * Refuses a DATABASE_URL postgres.js could not use, in one sentence naming
 * the setting (postgres.js would say only "Invalid URL"). The URL may carry a
 * password, so the message never repeats it.
 */
export function checkDatabaseUrl(raw: string): void {
  const rule =
    "DATABASE_URL must be a URL like postgres://user:password@host:5432/database (or unset for the embedded Postgres).";
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(rule);
  }
  if ((url.protocol !== "postgres:" && url.protocol !== "postgresql:") || !url.hostname) {
    throw new Error(rule);
  }
}

import { join } from "node:path";
import { createSql } from "../core/db";
import { embeddedUrl, findRunningCluster, startEmbeddedPostgres } from "./embedded-postgres";

export interface DevDatabase {
  url: string;
  /** "external" when DATABASE_URL was given, else "embedded". */
  kind: "external" | "embedded";
  /** The process id of an embedded Postgres that was running already (`npm start`'s), joined, not started. */
  joinedPid?: number;
  /** Stops the embedded Postgres this call started; leaves a joined one running. */
  stop(): Promise<void>;
}

const DATABASE_NAME = "securities_support";

/** How long a command waits for an embedded Postgres that is still starting. */
const STARTING_WAIT_MS = 30_000;

/**
 * The database for local commands: DATABASE_URL when set, otherwise an
 * embedded Postgres whose cluster lives in `<dataDir>/pg` and keeps its data
 * between runs, with a `securities_support` database created on first use.
 * When that Postgres runs already (`npm start` on the same DATA_DIR), the
 * command connects to it, found through the postmaster.pid file Postgres
 * keeps in the cluster, and leaves it running; with `joinRunning: false`
 * (`npm start` itself) it refuses in one sentence instead.
 */
export async function openDevDatabase(options: {
  databaseUrl?: string | undefined;
  dataDir: string;
  port?: number;
  joinRunning?: boolean;
}): Promise<DevDatabase> {
  if (options.databaseUrl) {
    checkDatabaseUrl(options.databaseUrl);
    return { url: options.databaseUrl, kind: "external", stop: async () => {} };
  }
  const clusterDir = join(options.dataDir, "pg");
  const running = await waitWhileStarting(clusterDir);
  if (running) {
    const what = `the embedded Postgres under ${clusterDir} (process ${running.pid}, port ${running.port})`;
    if (options.joinRunning === false) {
      throw new Error(
        `${what} is running already, most likely another npm start: stop it, or give this one another DATA_DIR.`,
      );
    }
    if (running.status !== "ready") {
      throw new Error(
        `${what} is ${running.status}: wait until npm start has stopped or is up, then run this again.`,
      );
    }
    try {
      const url = await withServiceDatabase(embeddedUrl(running.port));
      return { url, kind: "embedded", joinedPid: running.pid, stop: async () => {} };
    } catch (error) {
      throw new Error(
        `${what} is running but did not accept a connection (${(error as Error).message}): stop the process that runs it, or give this command another DATA_DIR.`,
      );
    }
  }
  const server = await startEmbeddedPostgres({
    dataDir: clusterDir,
    ...(options.port ? { port: options.port } : {}),
  });
  try {
    return { url: await withServiceDatabase(server.url), kind: "embedded", stop: server.stop };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

/** Creates the service's database on first use; returns its URL on the same server. */
async function withServiceDatabase(serverUrl: string): Promise<string> {
  const admin = createSql(serverUrl, { max: 1 });
  try {
    const [exists] = await admin`SELECT 1 FROM pg_database WHERE datname = ${DATABASE_NAME}`;
    if (!exists) await admin.unsafe(`CREATE DATABASE ${DATABASE_NAME}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${DATABASE_NAME}`;
  return url.toString();
}

async function waitWhileStarting(clusterDir: string) {
  const deadline = Date.now() + STARTING_WAIT_MS;
  for (;;) {
    const running = await findRunningCluster(clusterDir);
    if (running?.status !== "starting" || Date.now() > deadline) return running;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
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

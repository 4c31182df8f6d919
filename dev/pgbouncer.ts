/**
 * PgBouncer in transaction mode in front of a local Postgres: what the API
 * connects through in CI and in the benchmarks, as it connects through RDS
 * Proxy in AWS. Debian's `pgbouncer` package (`apt-get install pgbouncer`);
 * the configuration is written to a temporary directory, and the process is
 * this one's child, stopped by its pid.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import postgres from "postgres";
import { freePort } from "./embedded-postgres";

export interface PgBouncer {
  /** postgres://…@127.0.0.1:<port>/… : `serverUrl` with the pooler's address. */
  url: string;
  port: number;
  /** The same URL with another user and password (the user must be in `users`). */
  urlFor(url: string): string;
  /** Closes every server connection to `database` first (before it is dropped); see closeServerConnections. */
  closeServerConnections(database: string): Promise<void>;
  stop(): Promise<void>;
}

export interface PgBouncerOptions {
  /** A URL of the server to pool (host, port, user, password); every database on it is served. */
  serverUrl: string;
  /** Server connections per database and user (default_pool_size). */
  poolSize: number;
  /** Other URLs whose users (and passwords) connect through it, e.g. the runtime role's. */
  users?: string[];
  /** Most client connections (default 1000). */
  maxClients?: number;
  /** Lines PgBouncer logs (errors and warnings; connections are not logged). */
  onLog?: (line: string) => void;
}

/** The pgbouncer binary, or undefined when it is not installed (Debian puts it in /usr/sbin). */
export function pgbouncerBinary(): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/sbin"];
  for (const dir of dirs.filter(Boolean)) {
    const candidate = join(dir, "pgbouncer");
    if (existsSync(candidate) && spawnSync(candidate, ["--version"]).status === 0) return candidate;
  }
  return undefined;
}

/**
 * The configuration. Wildcard `[databases]`: each test file creates its own
 * database, and every one is reachable through the pooler without a reload.
 * `auth_type = trust` with the users' passwords in `auth_file`: PgBouncer
 * signs in to the server with them (the loopback test server trusts, the
 * embedded one checks passwords). No `ignore_startup_parameters`: the only
 * startup parameters postgres.js sends (client_encoding, TimeZone,
 * application_name) are ones PgBouncer tracks per client and restores on
 * whichever server session serves a transaction; ignoring TimeZone would
 * silently drop the sessions' UTC.
 */
export function pgbouncerConfig(options: {
  dir: string;
  port: number;
  serverHost: string;
  serverPort: number;
  poolSize: number;
  maxClients: number;
  runAsUser?: string;
  /** May use the admin console (the `pgbouncer` database): KILL, RESUME, SHOW. */
  adminUser: string;
}): string {
  return [
    "[databases]",
    `* = host=${options.serverHost} port=${options.serverPort}`,
    "",
    "[pgbouncer]",
    "listen_addr = 127.0.0.1",
    `listen_port = ${options.port}`,
    "unix_socket_dir =",
    "auth_type = trust",
    `auth_file = ${join(options.dir, "users.txt")}`,
    "pool_mode = transaction",
    `default_pool_size = ${options.poolSize}`,
    "min_pool_size = 0",
    "reserve_pool_size = 0",
    `max_client_conn = ${options.maxClients}`,
    `admin_users = ${options.adminUser}`,
    // Test databases come and go: forget a dropped one's pool soon.
    "autodb_idle_timeout = 30",
    "server_idle_timeout = 30",
    "log_connections = 0",
    "log_disconnections = 0",
    "log_pooler_errors = 1",
    ...(options.runAsUser ? [`user = ${options.runAsUser}`] : []),
    "",
  ].join("\n");
}

/** `"user" "password"` lines of PgBouncer's auth_file, from connection URLs. */
export function pgbouncerUsers(urls: string[]): string {
  const users = new Map<string, string>();
  for (const url of urls) {
    const parsed = new URL(url);
    users.set(decodeURIComponent(parsed.username), decodeURIComponent(parsed.password));
  }
  const quote = (value: string) => `"${value.replaceAll('"', '""')}"`;
  return [...users].map(([user, password]) => `${quote(user)} ${quote(password)}\n`).join("");
}

/** Starts PgBouncer on a free loopback port and waits until it accepts connections. */
export async function startPgBouncer(options: PgBouncerOptions): Promise<PgBouncer> {
  const binary = pgbouncerBinary();
  if (!binary) {
    throw new Error("pgbouncer is not installed (apt-get install pgbouncer).");
  }
  const server = new URL(options.serverUrl);
  const dir = await mkdtemp(join(tmpdir(), "securities-support-pgbouncer-"));
  // PgBouncer refuses to run as root; it then switches to `postgres`, which must read the files.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await chmod(dir, 0o755);
  const port = await freePort();
  await writeFile(
    join(dir, "users.txt"),
    pgbouncerUsers([options.serverUrl, ...(options.users ?? [])]),
    {
      mode: 0o644,
    },
  );
  const configFile = join(dir, "pgbouncer.ini");
  await writeFile(
    configFile,
    pgbouncerConfig({
      dir,
      port,
      serverHost: server.hostname,
      serverPort: Number(server.port || 5432),
      poolSize: options.poolSize,
      maxClients: options.maxClients ?? 1000,
      adminUser: decodeURIComponent(server.username),
      ...(asRoot ? { runAsUser: "postgres" } : {}),
    }),
    { mode: 0o644 },
  );
  const log = options.onLog ?? (() => {});
  const child: ChildProcess = spawn(binary, [configFile], { stdio: ["ignore", "pipe", "pipe"] });
  const output: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding("utf8");
    stream?.on("data", (chunk: string) => {
      for (const line of chunk.split("\n").filter(Boolean)) {
        output.push(line);
        log(line);
      }
    });
  }
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  try {
    await waitForPort(port, exited, () => output.slice(-5).join("\n"));
  } catch (error) {
    child.kill("SIGTERM");
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const urlFor = (url: string) => {
    const parsed = new URL(url);
    parsed.hostname = "127.0.0.1";
    parsed.port = String(port);
    return parsed.toString();
  };
  return {
    url: urlFor(options.serverUrl),
    port,
    urlFor,
    closeServerConnections: (database) =>
      closeServerConnections(urlFor(options.serverUrl), database),
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGINT");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Before a database is dropped: PgBouncer keeps idle server connections to
 * it, and DROP DATABASE … WITH (FORCE) would end them under it ("got packet
 * 'E' from server when not linked"). KILL closes them and pauses the
 * database; RESUME lets it go, so the next connection to the name (none, once
 * it is dropped) would open a new pool. `poolerUrl`'s user must be an
 * admin_users entry. The admin console speaks only the simple protocol, and
 * knows no types to fetch.
 */
export async function closeServerConnections(poolerUrl: string, database: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(database)) {
    throw new Error(`Not a plain database name: ${database}.`);
  }
  const admin = new URL(poolerUrl);
  admin.pathname = "/pgbouncer";
  const adminConsole = postgres(admin.toString(), { max: 1, fetch_types: false, prepare: false });
  try {
    await adminConsole.unsafe(`KILL ${database}`).simple();
    await adminConsole.unsafe(`RESUME ${database}`).simple();
  } finally {
    await adminConsole.end();
  }
}

async function waitForPort(
  port: number,
  exited: Promise<number | null>,
  lastLines: () => string,
): Promise<void> {
  let gone: number | null | undefined;
  void exited.then((code) => {
    gone = code;
  });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (gone !== undefined) {
      throw new Error(`pgbouncer exited with code ${gone} at start: ${lastLines()}`);
    }
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`pgbouncer did not listen on 127.0.0.1:${port} within 10 s: ${lastLines()}`);
}

/**
 * The set-up bench gateway and bench orders share: the bench's Postgres, the
 * broker sandbox in its own process, a migrated database, the local runtime
 * (one admin key) served over HTTP, accounts created through the API,
 * worker processes started together, and the floor both measure against.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { createStaticKeyStore, generateApiKey } from "../core/auth";
import { createLocalKeyProvider } from "../core/crypto";
import { createSql, type Sql } from "../core/db";
import { silentLogger } from "../core/log";
import { migrate } from "../core/migrations";
import { createLocalRuntime, type LocalRuntime } from "../dev/local-runtime";
import { type BenchServer, benchServer } from "./_database";
import { startSandboxProcess } from "./_sandbox";

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

export function round(value: number, digits = 2): number {
  return Math.round(value * 10 ** digits) / 10 ** digits;
}

export interface GatewayBenchOptions {
  /** The bench's database name. */
  name: string;
  /** The sandbox's added latency. */
  latencyMs: number;
  /** Posted to the sandbox's /_sandbox/config before the runtime starts. */
  sandboxConfig: unknown;
  /** The runtime's and the workers' settings, beside the sandbox's URLs. */
  env: Record<string, string>;
}

export interface GatewayBench {
  server: BenchServer;
  /** The sandbox's own URL (`/_sandbox/…`). */
  sandboxUrl: string;
  databaseUrl: string;
  /** The sandbox's broker URLs and the bench's settings. */
  env: Record<string, string>;
  runtime: LocalRuntime;
  /** The API's base URL. */
  base: string;
  /** The admin key's headers for the API. */
  headers: Record<string, string>;
  configureSandbox(change: unknown): Promise<void>;
  /** A real-environment account created through the API, with a fresh app key; its id. */
  createAccount(exchange: "KIS" | "KIWOOM"): Promise<number>;
  /**
   * Starts one worker (bench/<file>) per spec with the database and master
   * key, lets them finish starting (tsx, pool) for `startMs`, then says go to
   * all at once; each one's last line, as JSON.
   */
  runWorkers<T>(file: string, specs: Record<string, string>[], startMs: number): Promise<T[]>;
  /** bench gateway's floor in front of `target`, on its own pool of the database (`sql`). */
  startFloor(target: string, headers: Record<string, string>): Promise<{ url: string; sql: Sql }>;
  /** Stops the workers, the floor, the API, the runtime, the sandbox and the database. */
  close(): Promise<void>;
}

/** Starts the set-up; on a failure part-way, what was started is stopped. */
export async function startGatewayBench(options: GatewayBenchOptions): Promise<GatewayBench> {
  const server = await benchServer();
  const sandbox = await startSandboxProcess(options.latencyMs);
  const masterKey = randomBytes(32);
  const admin = generateApiKey("bench", ["admin"]);
  const env = { ...sandbox.env, ...options.env };
  const workers: ChildProcess[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const child of workers) child.kill();
    for (const cleanup of cleanups) {
      await cleanup().catch((error: unknown) => console.error(`bench cleanup failed: ${error}`));
    }
    sandbox.child.kill();
    await server.close();
  };
  const configureSandbox = async (change: unknown) => {
    await fetch(`${sandbox.url}/_sandbox/config`, {
      method: "POST",
      body: JSON.stringify(change),
    });
  };
  try {
    const databaseUrl = await server.database(options.name);
    const report = await migrate({ databaseUrl, action: "up", backup: false });
    if (!report.ok) throw new Error(`migration failed: ${report.error?.message}`);
    await configureSandbox(options.sandboxConfig);
    const runtime = await createLocalRuntime({
      databaseUrl,
      env,
      apiKeys: createStaticKeyStore([admin.record]),
      logger: silentLogger,
      keys: createLocalKeyProvider({ masterKey }),
    });
    cleanups.push(runtime.close);
    const api = serve({ fetch: runtime.app.fetch, port: 0, hostname: "127.0.0.1" });
    await new Promise<void>((ready) => api.once("listening", () => ready()));
    cleanups.unshift(() => new Promise<void>((done) => api.close(() => done())));
    const base = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
    const headers = { authorization: `Bearer ${admin.key}`, "content-type": "application/json" };
    const tsx = join(import.meta.dirname, "..", "node_modules", ".bin", "tsx");
    return {
      server,
      sandboxUrl: sandbox.url,
      databaseUrl,
      env,
      runtime,
      base,
      headers,
      configureSandbox,
      async createAccount(exchange) {
        const response = await fetch(`${base}/accounts`, {
          method: "POST",
          headers,
          body: JSON.stringify({
            name: `bench ${exchange}`,
            account_type: "SECURITIES_STOCK",
            exchange,
            environment: "real",
            api_key: `${exchange === "KIS" ? "PS" : "kw"}bench${randomBytes(6).toString("hex")}`,
            api_secret: randomBytes(16).toString("hex"),
            securities_config:
              exchange === "KIS"
                ? { account_number: "12345678", product_code: "01", market_type: "DOMESTIC_STOCK" }
                : { account_number: "5012345678", market_type: "DOMESTIC_STOCK" },
          }),
        });
        if (response.status !== 201) throw new Error(`account creation: ${await response.text()}`);
        return ((await response.json()) as { id: number }).id;
      },
      async runWorkers<T>(file: string, specs: Record<string, string>[], startMs: number) {
        const started = specs.map((spec) => {
          const child = spawn(tsx, [join(import.meta.dirname, file)], {
            env: {
              ...process.env,
              ...env,
              BENCH_DATABASE_URL: databaseUrl,
              BENCH_MASTER_KEY: masterKey.toString("hex"),
              ...spec,
            },
            stdio: ["pipe", "pipe", "inherit"],
          });
          workers.push(child);
          const result = new Promise<T>((resolve, reject) => {
            let out = "";
            child.stdout?.on("data", (chunk) => {
              out += String(chunk);
            });
            child.once("exit", (code) =>
              code === 0
                ? resolve(JSON.parse(out.trim().split("\n").at(-1) as string))
                : reject(new Error(`a worker exited with ${code}`)),
            );
          });
          return { child, result };
        });
        await new Promise((resolve) => setTimeout(resolve, startMs));
        for (const { child } of started) child.stdin?.write("go\n");
        return Promise.all(started.map(({ result }) => result));
      },
      async startFloor(target, floorHeaders) {
        const sql = createSql(databaseUrl, { max: 2 });
        cleanups.push(() => sql.end({ timeout: 5 }));
        const floor = await startFloorProxy(sql, target, floorHeaders);
        cleanups.unshift(floor.close);
        return { url: floor.url, sql };
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * The floor: a bare proxy that makes one database round trip, then sends the
 * call on with node:http keep-alive (as the gateway does) and hands back its body.
 */
async function startFloorProxy(sql: Sql, target: string, headers: Record<string, string>) {
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", async () => {
      await sql`SELECT 1`;
      const body = Buffer.concat(chunks);
      const forwarded = http.request(
        target,
        { method: "POST", agent, headers: { ...headers, "content-length": body.length } },
        (answer) => {
          const parts: Buffer[] = [];
          answer.on("data", (chunk: Buffer) => parts.push(chunk));
          answer.on("end", () => {
            response.writeHead(answer.statusCode ?? 502, { "content-type": "application/json" });
            response.end(Buffer.concat(parts));
          });
        },
      );
      forwarded.end(body);
    });
  });
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      agent.destroy();
      return new Promise<void>((done) => server.close(() => done()));
    },
  };
}

/**
 * `npm run bench -- gateway [--calls N] [--seconds S] [--concurrency C]`
 *
 * In one run, the broker sandbox in its own process answering after 20 ms,
 * on real Postgres (DATABASE_URL's server or a throwaway embedded one):
 * - latency: the same Kiwoom ka10001 call made straight to the sandbox with
 *   the account's token and through the gateway's HTTP route (interleaved,
 *   fetch for both); p50 and p99 of each, and what the gateway adds.
 *   Goals: +2 ms at p50, +10 ms at p99.
 * - pacing: four processes, each with its own pool and gateway (as four
 *   Lambda containers), hammer one KIS app key for S seconds; the sandbox
 *   allows that key exactly the configured 20 calls in any second. Goals: no
 *   EGW00201 and at least 90% of the limit achieved.
 * - the floor, in the same run: a bare node:http proxy (no app, no auth, no
 *   pacing) that makes one `SELECT 1` on a pool of the same database and
 *   forwards the call with the token: what one more HTTP hop and one
 *   Postgres round trip cost on this machine, whatever the gateway does.
 * Last line: one JSON object.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { serve } from "@hono/node-server";
import { createStaticKeyStore, generateApiKey } from "../core/auth";
import { createLocalKeyProvider } from "../core/crypto";
import { createSql, type Sql } from "../core/db";
import { silentLogger } from "../core/log";
import { migrate } from "../core/migrations";
import { createLocalRuntime } from "../dev/local-runtime";
import { benchServer } from "./_database";
import { startSandboxProcess } from "./_sandbox";

const LATENCY_MS = 20;
const PROCESSES = 4;

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/**
 * The floor: a bare proxy that makes one database round trip, then sends the
 * call on with node:http keep-alive (as the gateway does) and hands back its body.
 */
export async function startFloorProxy(sql: Sql, target: string, headers: Record<string, string>) {
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

export function round(value: number, digits = 2): number {
  return Math.round(value * 10 ** digits) / 10 ** digits;
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      calls: { type: "string", default: "1000" },
      seconds: { type: "string", default: "10" },
      concurrency: { type: "string", default: "8" },
    },
  });
  const calls = Number(values.calls);
  const seconds = Number(values.seconds);
  const server = await benchServer();
  const sandbox = await startSandboxProcess(LATENCY_MS);
  const masterKey = randomBytes(32);
  const admin = generateApiKey("bench", ["admin"]);
  const cleanups: (() => Promise<unknown>)[] = [];
  const workers: ChildProcess[] = [];
  try {
    const databaseUrl = await server.database("gateway");
    const report = await migrate({ databaseUrl, action: "up", backup: false });
    if (!report.ok) throw new Error(`migration failed: ${report.error?.message}`);
    // The latency account's key may call as fast as the loop goes (sandbox and gateway agree).
    await fetch(`${sandbox.url}/_sandbox/config`, {
      method: "POST",
      body: JSON.stringify({ callsPerSecond: { KIWOOM: { real: 1000 }, KIS: { real: 20 } } }),
    });
    const env = {
      ...sandbox.env,
      KIWOOM_REAL_CALLS_PER_SECOND: "1000",
      KIS_REAL_CALLS_PER_SECOND: "20",
    };
    const runtime = await createLocalRuntime({
      databaseUrl,
      env,
      apiKeys: createStaticKeyStore([admin.record]),
      logger: silentLogger,
      keys: createLocalKeyProvider({ masterKey }),
    });
    cleanups.push(runtime.close);
    const http = serve({ fetch: runtime.app.fetch, port: 0, hostname: "127.0.0.1" });
    await new Promise<void>((ready) => http.once("listening", () => ready()));
    cleanups.unshift(() => new Promise<void>((done) => http.close(() => done())));
    const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    const headers = { authorization: `Bearer ${admin.key}`, "content-type": "application/json" };

    const create = async (exchange: "KIS" | "KIWOOM") => {
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
    };

    // Latency: the same call, straight and through the gateway, interleaved.
    const kiwoom = await create("KIWOOM");
    const { accessToken } = await runtime.tokens.getValidToken(kiwoom);
    const body = JSON.stringify({ stk_cd: "005930" });
    const direct = () =>
      fetch(`${sandbox.env.KIWOOM_REAL_URL}/api/dostk/stkinfo`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${accessToken}`,
          "api-id": "ka10001",
          "content-type": "application/json;charset=UTF-8",
        },
        body,
      });
    const through = () =>
      fetch(`${base}/accounts/${kiwoom}/broker/api/dostk/stkinfo`, {
        method: "POST",
        headers: { ...headers, "api-id": "ka10001" },
        body,
      });
    const floorSql = createSql(databaseUrl, { max: 2 });
    cleanups.push(() => floorSql.end({ timeout: 5 }));
    const floor = await startFloorProxy(
      floorSql,
      `${sandbox.env.KIWOOM_REAL_URL}/api/dostk/stkinfo`,
      {
        authorization: `Bearer ${accessToken}`,
        "api-id": "ka10001",
        "content-type": "application/json;charset=UTF-8",
      },
    );
    cleanups.unshift(floor.close);
    const bare = () =>
      fetch(`${floor.url}/accounts/${kiwoom}/broker/api/dostk/stkinfo`, {
        method: "POST",
        headers: { ...headers, "api-id": "ka10001" },
        body,
      });
    const time = async (call: () => Promise<Response>) => {
      const started = performance.now();
      const response = await call();
      const answer = (await response.json()) as { return_code?: number };
      if (answer.return_code !== 0) throw new Error(`call failed: ${JSON.stringify(answer)}`);
      return performance.now() - started;
    };
    for (let i = 0; i < 50; i++) {
      await time(direct);
      await time(through);
      await time(bare);
    }
    const directMs: number[] = [];
    const gatewayMs: number[] = [];
    const floorMs: number[] = [];
    for (let i = 0; i < calls; i++) {
      directMs.push(await time(direct));
      gatewayMs.push(await time(through));
      floorMs.push(await time(bare));
    }
    directMs.sort((a, b) => a - b);
    gatewayMs.sort((a, b) => a - b);
    floorMs.sort((a, b) => a - b);

    // Pacing: four processes on one KIS app key whose sandbox limit is the configured 20/s.
    const kis = await create("KIS");
    await runtime.tokens.getValidToken(kis);
    await fetch(`${sandbox.url}/_sandbox/reset-stats`, { method: "POST" });
    const tsx = join(import.meta.dirname, "..", "node_modules", ".bin", "tsx");
    const results = Array.from({ length: PROCESSES }, () => {
      const child = spawn(tsx, [join(import.meta.dirname, "_gateway-worker.ts")], {
        env: {
          ...process.env,
          ...env,
          BENCH_DATABASE_URL: databaseUrl,
          BENCH_MASTER_KEY: masterKey.toString("hex"),
          BENCH_ACCOUNT_ID: String(kis),
          BENCH_DURATION_MS: String(seconds * 1000),
          BENCH_CONCURRENCY: values.concurrency,
        },
        stdio: ["pipe", "pipe", "inherit"],
      });
      workers.push(child);
      return new Promise<{ codes: Record<string, number>; first: number; last: number }>(
        (resolve, reject) => {
          let out = "";
          child.stdout?.on("data", (chunk) => {
            out += String(chunk);
          });
          child.once("exit", (code) =>
            code === 0
              ? resolve(JSON.parse(out.trim().split("\n").at(-1) as string))
              : reject(new Error(`a worker exited with ${code}`)),
          );
        },
      );
    });
    // Let every worker finish starting (tsx, pool), then start them together.
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    for (const child of workers) child.stdin?.write("go\n");
    const done = await Promise.all(results);
    const stats = (await (await fetch(`${sandbox.url}/_sandbox/stats`)).json()) as {
      calls: { byCode: Record<string, number> };
    };
    const codes: Record<string, number> = {};
    for (const result of done) {
      for (const [code, count] of Object.entries(result.codes))
        codes[code] = (codes[code] ?? 0) + count;
    }
    const ok = stats.calls.byCode.MCA00000 ?? 0;
    const rateLimited = stats.calls.byCode.EGW00201 ?? 0;
    const first = Math.min(...done.map((result) => result.first));
    const last = Math.max(...done.map((result) => result.last));
    // n successes span n-1 intervals.
    const achieved = ok > 1 ? ((ok - 1) * 1000) / (last - first) : 0;

    const result = {
      bench: "gateway",
      direct_p50_ms: round(percentile(directMs, 50)),
      gateway_p50_ms: round(percentile(gatewayMs, 50)),
      added_p50_ms: round(percentile(gatewayMs, 50) - percentile(directMs, 50)),
      added_p99_ms: round(percentile(gatewayMs, 99) - percentile(directMs, 99)),
      floor_added_p50_ms: round(percentile(floorMs, 50) - percentile(directMs, 50)),
      processes: PROCESSES,
      limit_per_s: 20,
      achieved_per_s: round(achieved),
      rate_limited: rateLimited,
    };
    console.log(
      `database: ${server.kind} Postgres; sandbox latency ${LATENCY_MS} ms; ${calls} interleaved calls each`,
    );
    console.log(
      `straight to the sandbox  p50 ${result.direct_p50_ms} ms   p99 ${round(percentile(directMs, 99))} ms`,
    );
    console.log(
      `through the gateway      p50 ${result.gateway_p50_ms} ms   p99 ${round(percentile(gatewayMs, 99))} ms`,
    );
    console.log(
      `added by the gateway     p50 ${result.added_p50_ms} ms (goal <= 2)   p99 ${result.added_p99_ms} ms (goal <= 10)`,
    );
    console.log(
      `a bare proxy (one hop, SELECT 1) adds  p50 ${result.floor_added_p50_ms} ms: the floor on this machine; the gateway's own share ${round(result.added_p50_ms - result.floor_added_p50_ms)} ms`,
    );
    console.log(
      `${PROCESSES} processes x ${values.concurrency} loops on one KIS key for ${seconds} s, limit 20/s on both sides: ${ok} answered, ${round(achieved)}/s (goal >= 18), EGW00201 ${rateLimited} (goal 0); worker answers ${JSON.stringify(codes)}`,
    );
    console.log(JSON.stringify(result));
  } finally {
    for (const child of workers) child.kill();
    for (const cleanup of cleanups) await cleanup().catch(() => {});
    sandbox.child.kill();
    await server.close();
  }
}

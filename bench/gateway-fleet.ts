/**
 * `npm run bench -- gateway-fleet [--seconds S] [--processes P] [--concurrency C]
 *   [--server-pool N] [--rounds R]`
 *
 * The gateway's total across many API processes, through a transaction
 * pooler and straight to Postgres, side by side in one run. 40 KIS app keys
 * (accounts) in the broker sandbox at 200 ms latency, each allowed its 20
 * calls a second; P (16) processes, each its own pool and gateway as one API
 * container, each with C (4) calls in flight, every loop on one account:
 * - pooled: every process connects through one PgBouncer in transaction mode
 *   with a server pool of N (8) (each process's own pool is C client connections);
 * - direct: the same load, each process with a pool of 2 straight to Postgres.
 * During each run the server's connections to the benchmark database are
 * sampled every 50 ms from pg_stat_activity; the most seen is reported.
 * On a shared machine the later run gains or loses with the load, so the
 * runs alternate, pooled-direct then direct-pooled (R rounds, default 2),
 * and each mode's rate is the mean of its runs.
 * Goals: pooled at least 85% of the ideal P × C / 0.2 s, 0 errors, 0
 * EGW00201, at most 8 server connections; the direct run needs at least 3
 * times the connections for the same rate. Last line: one JSON object.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pLimit from "p-limit";
import { createAccount, parseCreateAccount } from "../core/accounts";
import { createStaticKeyStore } from "../core/auth";
import { createLocalKeyProvider } from "../core/crypto";
import { createSql } from "../core/db";
import { silentLogger } from "../core/log";
import { migrate } from "../core/migrations";
import { createLocalRuntime } from "../dev/local-runtime";
import { startPgBouncer } from "../dev/pgbouncer";
import { benchServer } from "./_database";
import { startSandboxProcess } from "./_sandbox";

const LATENCY_MS = 200;
const APP_KEYS = 40;
const DIRECT_POOL = 2;
const CALLS_PER_SECOND_PER_KEY = 20;

interface WorkerResult {
  codes: Record<string, number>;
  first: number;
  last: number;
}

interface RunResult {
  perSecond: number;
  ok: number;
  errors: number;
  rateLimited: number;
  serverConnections: number;
  codes: Record<string, number>;
}

function round(value: number, digits = 1): number {
  return Math.round(value * 10 ** digits) / 10 ** digits;
}
const round1 = (value: number) => round(value);

/** One mode's runs as one: the mean rate, the most connections, every error and answer. */
function summary(runs: RunResult[]): RunResult {
  const codes: Record<string, number> = {};
  for (const run of runs) {
    for (const [code, count] of Object.entries(run.codes)) codes[code] = (codes[code] ?? 0) + count;
  }
  return {
    perSecond: runs.reduce((sum, run) => sum + run.perSecond, 0) / runs.length,
    ok: runs.reduce((sum, run) => sum + run.ok, 0),
    errors: runs.reduce((sum, run) => sum + run.errors, 0),
    rateLimited: runs.reduce((sum, run) => sum + run.rateLimited, 0),
    serverConnections: Math.max(...runs.map((run) => run.serverConnections)),
    codes,
  };
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      seconds: { type: "string", default: "10" },
      processes: { type: "string", default: "16" },
      concurrency: { type: "string", default: "4" },
      "server-pool": { type: "string", default: "8" },
      rounds: { type: "string", default: "2" },
    },
  });
  const seconds = Number(values.seconds);
  const processes = Number(values.processes);
  const concurrency = Number(values.concurrency);
  const inFlight = processes * concurrency;
  const ideal = (inFlight * 1000) / LATENCY_MS;
  const serverPool = Number(values["server-pool"]);

  const server = await benchServer();
  const sandbox = await startSandboxProcess(LATENCY_MS);
  const masterKey = randomBytes(32);
  const workers: ChildProcess[] = [];
  let stopBouncer = async () => {};
  try {
    const databaseUrl = await server.database("fleet");
    const databaseName = new URL(databaseUrl).pathname.slice(1);
    const report = await migrate({ databaseUrl, action: "up", backup: false });
    if (!report.ok) throw new Error(`migration failed: ${report.error?.message}`);
    await fetch(`${sandbox.url}/_sandbox/config`, {
      method: "POST",
      body: JSON.stringify({ callsPerSecond: { KIS: { real: CALLS_PER_SECOND_PER_KEY } } }),
    });
    const env = { ...sandbox.env, KIS_REAL_CALLS_PER_SECOND: String(CALLS_PER_SECOND_PER_KEY) };

    // 40 accounts with distinct app keys, each with its token issued before the runs.
    const setup = await createLocalRuntime({
      databaseUrl,
      env,
      apiKeys: createStaticKeyStore([]),
      logger: silentLogger,
      keys: createLocalKeyProvider({ masterKey }),
      maxConnections: 8,
    });
    const limit = pLimit(8);
    const accountIds = await Promise.all(
      Array.from({ length: APP_KEYS }, (_, i) =>
        limit(async () => {
          const account = await createAccount(
            setup.sql,
            setup.cipher,
            parseCreateAccount({
              name: `fleet ${i}`,
              account_type: "SECURITIES_STOCK",
              exchange: "KIS",
              environment: "real",
              api_key: `PSfleet${i}x${randomBytes(6).toString("hex")}`,
              api_secret: randomBytes(16).toString("hex"),
              securities_config: {
                account_number: "12345678",
                product_code: "01",
                market_type: "DOMESTIC_STOCK",
              },
            }),
          );
          const id = account.id;
          return id;
        }),
      ),
    );
    await Promise.all(accountIds.map((id) => limit(() => setup.tokens.getValidToken(id))));
    // Warm the sandbox process and Postgres before either run, so the first run is not the cold one.
    await Promise.all(
      Array.from({ length: 4 * APP_KEYS }, (_, i) =>
        limit(() =>
          setup.gateway.call({
            accountId: accountIds[i % APP_KEYS] as number,
            method: "GET",
            target:
              "/uapi/domestic-stock/v1/quotations/inquire-price?FID_COND_MRKT_DIV_CODE=J&FID_INPUT_ISCD=005930",
            header: (name) => (name === "tr_id" ? "FHKST01010100" : undefined),
            body: undefined,
            keyId: "bench",
          }),
        ),
      ),
    );
    await setup.close();

    const admin = createSql(server.adminUrl, { max: 1 });
    const run = async (label: string, url: string, poolMax: number, pooled: boolean) => {
      await fetch(`${sandbox.url}/_sandbox/reset-stats`, { method: "POST" });
      const tsx = join(import.meta.dirname, "..", "node_modules", ".bin", "tsx");
      const ready: Promise<void>[] = [];
      const results = Array.from({ length: processes }, (_, index) => {
        const child = spawn(tsx, [join(import.meta.dirname, "_gateway-worker.ts")], {
          env: {
            ...process.env,
            ...env,
            LOG_LEVEL: "warn",
            BENCH_DATABASE_URL: url,
            BENCH_POOLED: pooled ? "1" : "0",
            BENCH_POOL_MAX: String(poolMax),
            BENCH_MASTER_KEY: masterKey.toString("hex"),
            BENCH_ACCOUNT_IDS: accountIds.join(","),
            BENCH_LOOP_OFFSET: String(index * concurrency),
            BENCH_DURATION_MS: String(seconds * 1000),
            BENCH_CONCURRENCY: String(concurrency),
          },
          stdio: ["pipe", "pipe", "inherit"],
        });
        workers.push(child);
        let out = "";
        ready.push(
          new Promise<void>((resolve) => {
            child.stdout?.on("data", (chunk) => {
              out += String(chunk);
              if (out.includes("ready")) resolve();
            });
          }),
        );
        return new Promise<WorkerResult>((resolve, reject) => {
          child.once("exit", (code) =>
            code === 0
              ? resolve(JSON.parse(out.trim().split("\n").at(-1) as string))
              : reject(new Error(`a ${label} worker exited with ${code}`)),
          );
        });
      });
      await Promise.all(ready);
      let most = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const [row] = await admin<{ n: number }[]>`
            SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = ${databaseName} AND backend_type = 'client backend'`;
          most = Math.max(most, row?.n ?? 0);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      })();
      for (const child of workers) child.stdin?.write("go\n");
      const done = await Promise.all(results);
      sampling = false;
      await sampler;
      workers.length = 0;
      const stats = (await (await fetch(`${sandbox.url}/_sandbox/stats`)).json()) as {
        calls: { byCode: Record<string, number> };
      };
      const codes: Record<string, number> = {};
      for (const result of done) {
        for (const [code, count] of Object.entries(result.codes))
          codes[code] = (codes[code] ?? 0) + count;
      }
      const ok = codes.MCA00000 ?? 0;
      const first = Math.min(...done.map((result) => result.first));
      const last = Math.max(...done.map((result) => result.last));
      return {
        perSecond: ok > 1 ? ((ok - 1) * 1000) / (last - first) : 0,
        ok,
        errors: Object.entries(codes)
          .filter(([code]) => code !== "MCA00000")
          .reduce((sum, [, count]) => sum + count, 0),
        rateLimited: stats.calls.byCode.EGW00201 ?? 0,
        serverConnections: most,
        codes,
      } satisfies RunResult;
    };

    const runPooled = async () => {
      const bouncer = await startPgBouncer({
        serverUrl: databaseUrl,
        poolSize: serverPool,
        onLog: (line) => {
          if (/ (ERROR|FATAL) /.test(line)) console.error(`pgbouncer: ${line}`);
        },
      });
      stopBouncer = () => bouncer.stop();
      const result = await run("pooled", bouncer.urlFor(databaseUrl), concurrency, true);
      await bouncer.closeServerConnections(databaseName);
      await bouncer.stop();
      stopBouncer = async () => {};
      return result;
    };
    const runDirect = () => run("direct", databaseUrl, DIRECT_POOL, false);
    const runs: { pooled: RunResult[]; direct: RunResult[] } = { pooled: [], direct: [] };
    for (let round = 0; round < Number(values.rounds); round++) {
      const order =
        round % 2 === 0 ? (["pooled", "direct"] as const) : (["direct", "pooled"] as const);
      for (const mode of order) {
        const result = mode === "pooled" ? await runPooled() : await runDirect();
        runs[mode].push(result);
        console.log(
          `round ${round + 1} ${mode}: ${round1(result.perSecond)} calls/s, ${result.serverConnections} server connections`,
        );
      }
    }
    const pooled = summary(runs.pooled);
    const direct = summary(runs.direct);
    await admin.end();

    const line = (label: string, result: RunResult) =>
      `${label.padEnd(44)} ${round(result.perSecond)} calls/s (${round((100 * result.perSecond) / ideal)}% of ideal), ${result.serverConnections} server connections at most, ${result.errors} errors, EGW00201 ${result.rateLimited}`;
    console.log(
      `database: ${server.kind} Postgres; ${values.rounds} rounds, alternating which mode runs first; sandbox latency ${LATENCY_MS} ms; ${APP_KEYS} KIS app keys at ${CALLS_PER_SECOND_PER_KEY}/s; ${processes} processes x ${concurrency} in flight for ${seconds} s each run; ideal ${ideal}/s`,
    );
    console.log(line(`through PgBouncer (server pool ${serverPool}), mean`, pooled));
    console.log(line(`direct (pool ${DIRECT_POOL} per process), mean`, direct));
    console.log(
      `goals: pooled >= ${0.85 * ideal}/s, 0 errors, 0 EGW00201, <= ${serverPool} server connections; direct needs >= 3x the connections (here ${round(direct.serverConnections / Math.max(1, pooled.serverConnections), 2)}x); answers pooled ${JSON.stringify(pooled.codes)}, direct ${JSON.stringify(direct.codes)}`,
    );
    console.log(
      JSON.stringify({
        bench: "gateway-fleet",
        processes,
        in_flight: inFlight,
        ideal_per_s: ideal,
        pooled_per_s: round(pooled.perSecond),
        direct_per_s: round(direct.perSecond),
        pooled_server_connections: pooled.serverConnections,
        direct_server_connections: direct.serverConnections,
        errors: pooled.errors + direct.errors,
        rate_limited: pooled.rateLimited + direct.rateLimited,
      }),
    );
  } finally {
    for (const child of workers) child.kill();
    await stopBouncer().catch((error: Error) => console.error(`pgbouncer stop: ${error.message}`));
    sandbox.child.kill();
    await server.close();
  }
}

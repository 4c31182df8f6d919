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
import { parseArgs } from "node:util";
import { percentile, round, startGatewayBench } from "./_gateway-bench";

const LATENCY_MS = 20;
const PROCESSES = 4;

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
  // The latency account's key may call as fast as the loop goes (sandbox and gateway agree).
  const bench = await startGatewayBench({
    name: "gateway",
    latencyMs: LATENCY_MS,
    sandboxConfig: { callsPerSecond: { KIWOOM: { real: 1000 }, KIS: { real: 20 } } },
    env: { KIWOOM_REAL_CALLS_PER_SECOND: "1000", KIS_REAL_CALLS_PER_SECOND: "20" },
  });
  const { server, runtime, base, headers, env } = bench;
  try {
    // Latency: the same call, straight and through the gateway, interleaved.
    const kiwoom = await bench.createAccount("KIWOOM");
    const { accessToken } = await runtime.tokens.getValidToken(kiwoom);
    const body = JSON.stringify({ stk_cd: "005930" });
    const direct = () =>
      fetch(`${env.KIWOOM_REAL_URL}/api/dostk/stkinfo`, {
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
    const floor = await bench.startFloor(`${env.KIWOOM_REAL_URL}/api/dostk/stkinfo`, {
      authorization: `Bearer ${accessToken}`,
      "api-id": "ka10001",
      "content-type": "application/json;charset=UTF-8",
    });
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
    const kis = await bench.createAccount("KIS");
    await runtime.tokens.getValidToken(kis);
    await fetch(`${bench.sandboxUrl}/_sandbox/reset-stats`, { method: "POST" });
    // Let every worker finish starting (tsx, pool), then start them together.
    const done = await bench.runWorkers<{
      codes: Record<string, number>;
      first: number;
      last: number;
    }>(
      "_gateway-worker.ts",
      Array.from({ length: PROCESSES }, () => ({
        BENCH_ACCOUNT_ID: String(kis),
        BENCH_DURATION_MS: String(seconds * 1000),
        BENCH_CONCURRENCY: values.concurrency,
      })),
      4_000,
    );
    const stats = (await (await fetch(`${bench.sandboxUrl}/_sandbox/stats`)).json()) as {
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
    await bench.close();
  }
}

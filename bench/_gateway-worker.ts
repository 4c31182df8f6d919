/**
 * One of the gateway benchmarks' hammering processes: its own pool, cipher,
 * token service and gateway (as one Lambda container would have), calling
 * brokers through the gateway from CONCURRENCY loops for DURATION_MS. Loop i
 * calls account BENCH_ACCOUNT_IDS[(BENCH_LOOP_OFFSET + i) % n] (one id: every
 * loop the same account). BENCH_POOL_MAX sizes its pool (default 4), and
 * BENCH_POOLED=1 says the URL is a transaction pooler. Prints "ready" once
 * its pool is built, then, at the end, one JSON line: answers by broker code
 * and the time window of its successful calls.
 */
import { createStaticKeyStore } from "../core/auth";
import { createLocalKeyProvider } from "../core/crypto";
import { silentLogger } from "../core/log";
import { createLocalRuntime } from "../dev/local-runtime";

const env = process.env;
const runtime = await createLocalRuntime({
  databaseUrl: env.BENCH_DATABASE_URL as string,
  env,
  apiKeys: createStaticKeyStore([]),
  logger: silentLogger,
  keys: createLocalKeyProvider({ masterKey: Buffer.from(env.BENCH_MASTER_KEY as string, "hex") }),
  maxConnections: Number(env.BENCH_POOL_MAX ?? 4),
  pooled: env.BENCH_POOLED === "1",
});
const accountIds = (env.BENCH_ACCOUNT_IDS ?? env.BENCH_ACCOUNT_ID ?? "").split(",").map(Number);
const loopOffset = Number(env.BENCH_LOOP_OFFSET ?? 0);
console.log("ready");
const codes: Record<string, number> = {};
let first = Number.POSITIVE_INFINITY;
let last = 0;
// Wait for the go signal so every process starts hammering together.
await new Promise<void>((resolve) => process.stdin.once("data", () => resolve()));
// Stop reading stdin, or it would keep this process alive after the run.
process.stdin.destroy();
const start = performance.now();
const deadline = start + Number(env.BENCH_DURATION_MS);
await Promise.all(
  Array.from({ length: Number(env.BENCH_CONCURRENCY) }, async (_, loop) => {
    const accountId = accountIds[(loopOffset + loop) % accountIds.length] as number;
    while (performance.now() < deadline) {
      let code: string;
      try {
        const answer = await runtime.gateway.call({
          accountId,
          method: "GET",
          target:
            "/uapi/domestic-stock/v1/quotations/inquire-price?FID_COND_MRKT_DIV_CODE=J&FID_INPUT_ISCD=005930",
          header: (name) => (name === "tr_id" ? "FHKST01010100" : undefined),
          body: undefined,
          keyId: "bench",
        });
        code = (JSON.parse(answer.body) as { msg_cd?: string }).msg_cd ?? String(answer.status);
        const now = Date.now();
        if (code === "MCA00000") {
          first = Math.min(first, now);
          last = Math.max(last, now);
        }
      } catch (error) {
        code = (error as { code?: string }).code ?? "error";
      }
      codes[code] = (codes[code] ?? 0) + 1;
    }
  }),
);
console.log(JSON.stringify({ codes, first, last }));
await runtime.close();
process.exit(0);

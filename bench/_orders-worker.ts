/**
 * One of the orders benchmark's processes: its own pool, cipher, token
 * service, gateway and app (as one Lambda container would have). Waits for
 * "go" on stdin, then, by BENCH_MODE:
 * - chaos: places BENCH_ORDERS orders on BENCH_ACCOUNTS through the app
 *   (its HTTP contract, without the TCP hop) from BENCH_CONCURRENCY loops,
 *   each following the answers with the same key until a final state;
 * - flood: sends KIS quotes on BENCH_ACCOUNTS at BENCH_RATE a second for
 *   BENCH_DURATION_MS, paced waits measured;
 * - trickle: one order a second on BENCH_ACCOUNTS for BENCH_DURATION_MS.
 * Prints one JSON line.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { createStaticKeyStore, generateApiKey } from "../core/auth";
import { createLocalKeyProvider } from "../core/crypto";
import { silentLogger } from "../core/log";
import { METRIC, type Metrics } from "../core/metrics";
import { createLocalRuntime } from "../dev/local-runtime";

const env = process.env;
const waits: number[] = [];
const metrics: Metrics = {
  put(values) {
    const wait = values[METRIC.gatewayPacedWaitTime];
    if (wait !== undefined) waits.push(typeof wait === "number" ? wait : wait.value);
  },
};
const admin = generateApiKey("bench", ["admin"]);
const runtime = await createLocalRuntime({
  databaseUrl: env.BENCH_DATABASE_URL as string,
  env,
  apiKeys: createStaticKeyStore([admin.record]),
  logger: silentLogger,
  keys: createLocalKeyProvider({ masterKey: Buffer.from(env.BENCH_MASTER_KEY as string, "hex") }),
  maxConnections: 6,
  metrics,
});
const accounts = (env.BENCH_ACCOUNTS as string).split(",").map(Number);
const worker = env.BENCH_WORKER ?? "0";
const SYMBOLS = ["005930", "000660", "035420"];

async function api(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: unknown,
) {
  const response = await runtime.app.fetch(
    new Request(`http://bench${path}`, {
      method,
      headers: {
        authorization: `Bearer ${admin.key}`,
        "content-type": "application/json",
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }),
  );
  const text = await response.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { text };
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

function orderOf(n: number) {
  return {
    trId: n % 2 === 0 ? "TTTC0012U" : "TTTC0011U",
    body: {
      CANO: "12345678",
      ACNT_PRDT_CD: "01",
      PDNO: SYMBOLS[n % SYMBOLS.length],
      ORD_DVSN: "00",
      ORD_QTY: String(1 + (n % 10)),
      ORD_UNPR: "70000",
    },
  };
}

/** Every answer the chaos clients met on the way, by status and code. */
const seen: Record<string, number> = {};

/** Places one order and follows the answers with the same key until a final state. */
async function place(account: number, key: string, n: number) {
  const { trId, body } = orderOf(n);
  const path = `/accounts/${account}/broker/uapi/domestic-stock/v1/trading/order-cash`;
  const started = performance.now();
  for (let tries = 0; tries < 200; tries++) {
    const answer = await api("POST", path, { tr_id: trId, "idempotency-key": key }, body);
    const code = answer.body.code as string | undefined;
    const label = `${answer.status}${code ? ` ${code}` : ""}`;
    seen[label] = (seen[label] ?? 0) + 1;
    if (answer.status === 200) {
      const state =
        (answer.body.state as string | undefined) ??
        (answer.body.rt_cd === "0" ? "accepted" : "rejected");
      return { state, ms: performance.now() - started, tries };
    }
    if (code === "order_ambiguous")
      return { state: "ambiguous", ms: performance.now() - started, tries };
    if (code === "order_outcome_unknown") {
      // Read the order until it is final; then the same key again replays or re-sends it.
      for (let reads = 0; reads < 60; reads++) {
        await sleep(250);
        const read = await api("GET", answer.headers.get("location") as string);
        if (read.body.state !== "unknown" && read.body.state !== "in_flight") break;
      }
      continue;
    }
    const retryAfter = Number(answer.headers.get("retry-after") ?? "0");
    await sleep(Math.min(1_000, Math.max(100, retryAfter * 1000)));
  }
  return { state: "gave_up", ms: performance.now() - started, tries: 200 };
}

await new Promise<void>((resolve) => process.stdin.once("data", () => resolve()));
process.stdin.destroy();
const mode = env.BENCH_MODE;
const out: Record<string, unknown> = { mode };
if (mode === "chaos") {
  const total = Number(env.BENCH_ORDERS);
  const results: { state: string; ms: number; tries: number }[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Number(env.BENCH_CONCURRENCY) }, async () => {
      for (let n = next++; n < total; n = next++) {
        const account = accounts[n % accounts.length] as number;
        results.push(await place(account, `w${worker}-${n}`, n));
      }
    }),
  );
  out.finals = results.reduce<Record<string, number>>((all, r) => {
    all[r.state] = (all[r.state] ?? 0) + 1;
    return all;
  }, {});
  out.times = results.map((r) => Math.round(r.ms));
  out.codes = seen;
} else {
  const stopAt = performance.now() + Number(env.BENCH_DURATION_MS);
  const rate = mode === "flood" ? Number(env.BENCH_RATE) : 1;
  const codes: Record<string, number> = {};
  const inFlight: Promise<void>[] = [];
  for (let n = 0; performance.now() < stopAt; n++) {
    const account = accounts[n % accounts.length] as number;
    const call =
      mode === "flood"
        ? api(
            "GET",
            `/accounts/${account}/broker/uapi/domestic-stock/v1/quotations/inquire-price?FID_COND_MRKT_DIV_CODE=J&FID_INPUT_ISCD=005930`,
            { tr_id: "FHKST01010100" },
          )
        : api(
            "POST",
            `/accounts/${account}/broker/uapi/domestic-stock/v1/trading/order-cash`,
            { tr_id: "TTTC0012U", "idempotency-key": `t${worker}-${n}-${Date.now()}` },
            orderOf(n).body,
          );
    inFlight.push(
      call.then((answer) => {
        const code = String(answer.body.msg_cd ?? answer.body.code ?? answer.status);
        codes[code] = (codes[code] ?? 0) + 1;
      }),
    );
    await sleep(1000 / rate);
  }
  await Promise.all(inFlight);
  out.codes = codes;
}
out.waits = waits.map((wait) => Math.round(wait * 10) / 10);
console.log(JSON.stringify(out));
await runtime.close();
process.exit(0);

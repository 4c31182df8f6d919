/**
 * `npm run bench -- orders [--orders N] [--seconds S] [--calls C]`
 *
 * In one run, the broker sandbox in its own process, on real Postgres
 * (DATABASE_URL's server or a throwaway embedded one):
 * - chaos: 4 processes (each its own pool and gateway, as Lambda containers)
 *   place N (400) KIS orders on 8 accounts while the sandbox books and then
 *   resets 20% of them and hangs 10% past the gateway's timeout. Every client
 *   follows the answers with the same key until a final state. Goals: exactly
 *   N booked, 0 duplicates, 0 unresolved, 0 ambiguous, p99 to a final state <= 10 s.
 * - priority: 4 processes flood one KIS app key with quotes at twice its
 *   20/s while a fifth sends one order a second. Goals: the orders' paced
 *   wait p99 <= 100 ms; 0 EGW00201 at the sandbox.
 * - cost: interleaved, the same Kiwoom call straight to the sandbox, a plain
 *   gateway call (ka10001), an idempotent order through the gateway
 *   (kt10000, a new key each), and bench gateway's floor (one HTTP hop and a
 *   SELECT 1): what the intent adds over a plain call, against one Postgres
 *   round trip. Goal: at most one more round trip. The order's claim rides in
 *   its first slot's statement (claim_order_slot), so it makes no more round
 *   trips than a plain call; the two statements alone are timed too (a plain
 *   call's slot against an order's claim with its slot), beside a SELECT 1 and
 *   one durable INSERT.
 * Last line: one JSON object.
 */
import { parseArgs } from "node:util";
import { percentile, round, startGatewayBench } from "./_gateway-bench";

const LATENCY_MS = 10;
const PROCESSES = 4;
const CHAOS_ACCOUNTS = 8;
const ORDER_PATH = "KIS /uapi/domestic-stock/v1/trading/order-cash";

interface WorkerOut {
  finals?: Record<string, number>;
  times?: number[];
  codes?: Record<string, number>;
  waits: number[];
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      orders: { type: "string", default: "400" },
      seconds: { type: "string", default: "10" },
      calls: { type: "string", default: "300" },
    },
  });
  const orders = Number(values.orders);
  const seconds = Number(values.seconds);
  const bench = await startGatewayBench({
    name: "orders",
    latencyMs: LATENCY_MS,
    sandboxConfig: { callsPerSecond: { KIWOOM: { real: 1000 }, KIS: { real: 20 } }, hangMs: 4000 },
    env: {
      BROKER_TIMEOUT_MS: "2000",
      // The cost account's Kiwoom key may call as fast as the loop goes (sandbox and gateway agree).
      KIWOOM_REAL_CALLS_PER_SECOND: "1000",
      KIWOOM_REAL_ORDER_CALLS_PER_SECOND: "1000",
    },
  });
  const { server, runtime, base, headers, env, configureSandbox: configure } = bench;
  const sandboxStats = async () =>
    (await (await fetch(`${bench.sandboxUrl}/_sandbox/stats`)).json()) as {
      orders: { booked: number };
      calls: { byCode: Record<string, number> };
    };
  try {
    const create = async (exchange: "KIS" | "KIWOOM") => {
      const id = await bench.createAccount(exchange);
      await runtime.tokens.getValidToken(id);
      return id;
    };
    /** Starts workers, lets them finish starting, then says go to all at once. */
    const run = (specs: Record<string, string>[]) =>
      bench.runWorkers<WorkerOut>(
        "_orders-worker.ts",
        specs.map((spec, index) => ({ BENCH_WORKER: String(index), ...spec })),
        5_000,
      );

    // Chaos.
    const chaosAccounts: number[] = [];
    for (let i = 0; i < CHAOS_ACCOUNTS; i++) chaosAccounts.push(await create("KIS"));
    await fetch(`${bench.sandboxUrl}/_sandbox/reset-stats`, { method: "POST" });
    await configure({
      orderFaultRates: { [ORDER_PATH]: { accept_then_reset: 0.2, accept_then_hang: 0.1 } },
    });
    const chaosStarted = performance.now();
    const chaos = await run(
      Array.from({ length: PROCESSES }, (_, index) => ({
        BENCH_MODE: "chaos",
        BENCH_ACCOUNTS: chaosAccounts.join(","),
        BENCH_ORDERS: String(Math.floor(orders / PROCESSES) + (index < orders % PROCESSES ? 1 : 0)),
        BENCH_CONCURRENCY: "8",
      })),
    );
    const chaosSeconds = (performance.now() - chaosStarted) / 1000 - 5;
    await configure({ orderFaultRates: {} });
    const chaosStats = await sandboxStats();
    const [intents] = await runtime.sql<
      { accepted: number; open: number; ambiguous: number; numbers: number; other: number }[]
    >`
      SELECT count(*) FILTER (WHERE state = 'accepted')::int AS accepted,
             count(*) FILTER (WHERE state IN ('in_flight', 'unknown'))::int AS open,
             count(*) FILTER (WHERE state = 'ambiguous')::int AS ambiguous,
             count(DISTINCT broker_order_no)::int AS numbers,
             count(*) FILTER (WHERE state NOT IN ('accepted', 'in_flight', 'unknown', 'ambiguous'))::int AS other
      FROM order_intents WHERE account_id IN ${runtime.sql(chaosAccounts)}`;
    const finals: Record<string, number> = {};
    const met: Record<string, number> = {};
    const times: number[] = [];
    for (const out of chaos) {
      for (const [code, count] of Object.entries(out.codes ?? {}))
        met[code] = (met[code] ?? 0) + count;
      for (const [state, count] of Object.entries(out.finals ?? {}))
        finals[state] = (finals[state] ?? 0) + count;
      times.push(...(out.times ?? []));
    }
    times.sort((a, b) => a - b);
    const booked = chaosStats.orders.booked;
    const accepted = intents?.accepted ?? 0;

    // Priority: queries at twice the key's limit from 4 processes, one order a second from a fifth.
    const hot = await create("KIS");
    await fetch(`${bench.sandboxUrl}/_sandbox/reset-stats`, { method: "POST" });
    const priority = await run([
      ...Array.from({ length: PROCESSES }, () => ({
        BENCH_MODE: "flood",
        BENCH_ACCOUNTS: String(hot),
        BENCH_RATE: "10",
        BENCH_DURATION_MS: String(seconds * 1000),
      })),
      {
        BENCH_MODE: "trickle",
        BENCH_ACCOUNTS: String(hot),
        BENCH_DURATION_MS: String(seconds * 1000),
      },
    ]);
    const priorityStats = await sandboxStats();
    const orderWaits = (priority.at(-1)?.waits ?? []).sort((a, b) => a - b);
    const queryWaits = priority
      .slice(0, -1)
      .flatMap((out) => out.waits)
      .sort((a, b) => a - b);
    const floodCodes: Record<string, number> = {};
    for (const out of priority.slice(0, -1)) {
      for (const [code, count] of Object.entries(out.codes ?? {}))
        floodCodes[code] = (floodCodes[code] ?? 0) + count;
    }
    const rateLimited =
      (priorityStats.calls.byCode.EGW00201 ?? 0) + (priorityStats.calls.byCode["1700"] ?? 0);

    // Cost: the same floor as bench gateway, a plain call and an idempotent order, interleaved.
    const kiwoom = await create("KIWOOM");
    const { accessToken } = await runtime.tokens.getValidToken(kiwoom);
    const kiwoomHeaders = {
      authorization: `Bearer ${accessToken}`,
      "api-id": "ka10001",
      "content-type": "application/json;charset=UTF-8",
    };
    const info = JSON.stringify({ stk_cd: "005930" });
    const orderBody = JSON.stringify({
      dmst_stex_tp: "KRX",
      stk_cd: "005930",
      ord_qty: "1",
      ord_uv: "70000",
      trde_tp: "0",
    });
    const floor = await bench.startFloor(`${env.KIWOOM_REAL_URL}/api/dostk/stkinfo`, kiwoomHeaders);
    const floorSql = floor.sql;
    let keyNo = 0;
    const calls = {
      direct: () =>
        fetch(`${env.KIWOOM_REAL_URL}/api/dostk/stkinfo`, {
          method: "POST",
          headers: kiwoomHeaders,
          body: info,
        }),
      // The same order straight to the sandbox: booking costs it more than a quote,
      // so the intent's share is (order - directOrder) - (plain - direct).
      directOrder: () =>
        fetch(`${env.KIWOOM_REAL_URL}/api/dostk/ordr`, {
          method: "POST",
          headers: { ...kiwoomHeaders, "api-id": "kt10000" },
          body: orderBody,
        }),
      floor: () => fetch(`${floor.url}/x`, { method: "POST", headers, body: info }),
      plain: () =>
        fetch(`${base}/accounts/${kiwoom}/broker/api/dostk/stkinfo`, {
          method: "POST",
          headers: { ...headers, "api-id": "ka10001" },
          body: info,
        }),
      order: () =>
        fetch(`${base}/accounts/${kiwoom}/broker/api/dostk/ordr`, {
          method: "POST",
          headers: { ...headers, "api-id": "kt10000", "idempotency-key": `cost-${keyNo++}` },
          body: orderBody,
        }),
      roundTrip: async () => {
        await floorSql`SELECT 1`;
        return new Response("{}");
      },
      // What the intent's claim is: a write committed (WAL flushed) before the order goes out.
      commit: async () => {
        await floorSql`INSERT INTO bench_commits VALUES (1)`;
        return new Response("{}");
      },
      // The two statements alone: a plain call's slot, and an order's claim with its slot.
      slot: async () => {
        await floorSql`SELECT * FROM broker_call_slot(${kiwoom}, 'bench-slot', 'KIWOOM', 'real', 0.001, 5000)`;
        return new Response("{}");
      },
      claimSlot: async () => {
        await floorSql`
          SELECT * FROM claim_order_slot(${kiwoom}, ${`direct-${keyNo++}`}, 'h', ${`S${keyNo}`},
            'buy', '{"quantity": "1", "price": "1"}', 86400000, 30000,
            'bench-slot|order', 'KIWOOM', 'real', 0.001, 5000)`;
        return new Response("{}");
      },
    };
    const direct = new Set(["roundTrip", "commit", "slot", "claimSlot"]);
    await floorSql`CREATE TABLE IF NOT EXISTS bench_commits (n INTEGER)`;
    const timings: Record<keyof typeof calls, number[]> = {
      direct: [],
      directOrder: [],
      floor: [],
      plain: [],
      order: [],
      roundTrip: [],
      commit: [],
      slot: [],
      claimSlot: [],
    };
    const entries = Object.entries(calls) as [keyof typeof calls, () => Promise<Response>][];
    for (let i = 0; i < Number(values.calls) + 30; i++) {
      // A new order each round: what a call leaves running (an order's intent and audit
      // writes, off the answer's path) falls on every kind of call alike.
      for (let j = entries.length - 1; j > 0; j--) {
        const k = Math.floor(Math.random() * (j + 1));
        [entries[j], entries[k]] = [
          entries[k] as (typeof entries)[number],
          entries[j] as (typeof entries)[number],
        ];
      }
      for (const [name, call] of entries) {
        const started = performance.now();
        const response = await call();
        const answer = (await response.json()) as { return_code?: number };
        if (!direct.has(name) && answer.return_code !== 0) {
          throw new Error(`${name} failed: ${JSON.stringify(answer)}`);
        }
        if (i >= 30) timings[name].push(performance.now() - started);
      }
    }
    for (const list of Object.values(timings)) list.sort((a, b) => a - b);
    const p50 = (name: keyof typeof calls) => percentile(timings[name], 50);

    const result = {
      bench: "orders",
      orders,
      booked,
      duplicates: booked - accepted,
      unresolved: intents?.open ?? 0,
      ambiguous: intents?.ambiguous ?? 0,
      final_p99_ms: Math.round(percentile(times, 99)),
      order_wait_p99_ms: round(percentile(orderWaits, 99)),
      query_wait_p99_ms: round(percentile(queryWaits, 99)),
      rate_limited: rateLimited,
      // What the gateway adds to an order, less what it adds to a plain call.
      intent_added_p50_ms: round(
        p50("order") - p50("directOrder") - (p50("plain") - p50("direct")),
      ),
      order_over_plain_p50_ms: round(p50("order") - p50("plain")),
      durable_commit_p50_ms: round(p50("commit")),
      round_trip_p50_ms: round(p50("roundTrip")),
      claim_over_slot_p50_ms: round(p50("claimSlot") - p50("slot")),
      floor_added_p50_ms: round(p50("floor") - p50("direct")),
    };
    console.log(
      `database: ${server.kind} Postgres; sandbox latency ${LATENCY_MS} ms; gateway timeout 2000 ms`,
    );
    console.log(
      `chaos: ${PROCESSES} processes, ${orders} orders on ${CHAOS_ACCOUNTS} KIS keys, 20% accept-then-reset, 10% accept-then-hang, in ${round(chaosSeconds, 1)} s: booked ${booked} (goal ${orders}), intents accepted ${accepted} with ${intents?.numbers} distinct order numbers, other final states ${intents?.other}; duplicates ${result.duplicates}, unresolved ${result.unresolved}, ambiguous ${result.ambiguous} (goals 0); client finals ${JSON.stringify(finals)}; answers met ${JSON.stringify(met)}`,
    );
    console.log(
      `chaos: time to a final state p50 ${percentile(times, 50)} ms, p99 ${result.final_p99_ms} ms (goal <= 10000), max ${times.at(-1)} ms`,
    );
    console.log(
      `priority: ${PROCESSES} x 10 quotes/s on one KIS key (limit 20/s) for ${seconds} s and 1 order/s: order paced wait p50 ${round(percentile(orderWaits, 50))} p99 ${result.order_wait_p99_ms} ms (goal <= 100, ${orderWaits.length} orders); query wait p99 ${result.query_wait_p99_ms} ms; EGW00201 ${rateLimited} (goal 0); flood answers ${JSON.stringify(floodCodes)}; order answers ${JSON.stringify(priority.at(-1)?.codes)}`,
    );
    console.log(
      `cost (${values.calls} interleaved each, p50): straight ${round(p50("direct"))} ms, floor ${round(p50("floor"))} ms, plain gateway ${round(p50("plain"))} ms, order straight ${round(p50("directOrder"))} ms, idempotent order ${round(p50("order"))} ms, one SELECT 1 ${round(p50("roundTrip"))} ms, one durable INSERT ${round(p50("commit"))} ms; the statements alone: a plain call's slot ${round(p50("slot"))} ms, an order's claim with its slot ${round(p50("claimSlot"))} ms (${result.claim_over_slot_p50_ms} ms more): the intent adds ${result.intent_added_p50_ms} ms over what the gateway adds to a plain call (${result.order_over_plain_p50_ms} ms before subtracting the sandbox's own booking; goal: at most one round trip; the claim and the first slot are one statement, committed before the send)`,
    );
    console.log(JSON.stringify(result));
  } finally {
    await bench.close();
  }
}

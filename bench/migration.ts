/**
 * `npm run bench -- migration [--rows N]`
 * A legacy accounts table of 1,000,000 rows, a writer updating and inserting
 * rows without pause, and `up`: how long it takes and the longest the writer
 * was blocked. The same against a naive single-transaction version of the
 * seed (plain CREATE INDEX under the ALTER's exclusive lock), side by side.
 * Three rounds on fresh copies of one legacy table, alternating which side
 * goes first, each measured phase after a CHECKPOINT (so a checkpoint's
 * flush does not land in one side's window: one run here once measured a
 * 575 ms "stall" that was a checkpoint); the median and the worst round of
 * each side are reported, and max_write_stall_ms is the median.
 */
import { parseArgs } from "node:util";
import { createSql, type Sql } from "../core/db";
import { migrate } from "../core/migrations";
import { benchServer } from "./_database";

const NAIVE_SEED = `
BEGIN;
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS account_type VARCHAR(20) NOT NULL DEFAULT 'CRYPTO';
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS securities_config TEXT;
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS access_token TEXT;
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS token_expires_at TIMESTAMP;
CREATE TABLE IF NOT EXISTS securities_tokens (
  id SERIAL PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  access_token TEXT NOT NULL,
  token_type VARCHAR(20) NOT NULL DEFAULT 'Bearer',
  expires_in INTEGER NOT NULL,
  expires_at TIMESTAMP NOT NULL,
  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  last_refreshed_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  UNIQUE (account_id)
);
CREATE INDEX IF NOT EXISTS idx_account_type ON accounts (account_type);
CREATE INDEX IF NOT EXISTS idx_securities_token_account_id ON securities_tokens (account_id);
CREATE INDEX IF NOT EXISTS idx_securities_token_expires_at ON securities_tokens (expires_at);
CREATE INDEX IF NOT EXISTS idx_securities_token_last_refreshed ON securities_tokens (last_refreshed_at);
COMMIT;
`;

async function buildLegacy(url: string, rows: number): Promise<void> {
  const sql = createSql(url, { max: 1 });
  await sql`
    CREATE TABLE accounts (
      id SERIAL PRIMARY KEY, name VARCHAR(100) NOT NULL, exchange VARCHAR(50) NOT NULL,
      api_key TEXT, api_secret TEXT, is_active BOOLEAN NOT NULL DEFAULT TRUE,
      created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
      updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
    )`;
  await sql`
    INSERT INTO accounts (name, exchange, api_key, api_secret)
    SELECT 'crypto-' || g, (ARRAY['upbit', 'bithumb', 'binance'])[1 + g % 3],
           md5(g::text), md5((g * 7)::text)
    FROM generate_series(1, ${rows}) AS g`;
  await sql`VACUUM ANALYZE accounts`;
  await sql.end();
}

/** Runs writes back to back until stopped; records the longest single write. */
function startWriter(url: string, rows: number) {
  const sql: Sql = createSql(url, { max: 1 });
  let running = true;
  let measuring = false;
  let maxMs = 0;
  let writes = 0;
  const loop = (async () => {
    let i = 0;
    while (running) {
      const started = performance.now();
      if (i++ % 2 === 0) {
        const id = 1 + Math.floor(Math.random() * rows);
        await sql`UPDATE accounts SET updated_at = now() WHERE id = ${id}`;
      } else {
        await sql`INSERT INTO accounts (name, exchange) VALUES ('writer', 'upbit')`;
      }
      const took = performance.now() - started;
      if (measuring) {
        writes++;
        if (took > maxMs) maxMs = took;
      }
    }
  })();
  return {
    measure() {
      measuring = true;
    },
    async stop() {
      running = false;
      await loop;
      await sql.end();
      return { maxMs, writes };
    },
  };
}

async function timed(url: string, rows: number, work: () => Promise<void>) {
  // Dirty pages from building the copy are flushed now, not in the measured window.
  const admin = createSql(url, { max: 1 });
  await admin`CHECKPOINT`;
  await admin.end();
  const writer = startWriter(url, rows);
  await new Promise((r) => setTimeout(r, 300));
  writer.measure();
  const started = performance.now();
  await work();
  const totalMs = performance.now() - started;
  await new Promise((r) => setTimeout(r, 100));
  const { maxMs, writes } = await writer.stop();
  return { totalMs, maxStallMs: maxMs, writes };
}

type Result = Awaited<ReturnType<typeof timed>>;

const median = (values: number[]) => {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)] as number;
};

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      rows: { type: "string", default: "1000000" },
      rounds: { type: "string", default: "3" },
    },
  });
  const rows = Number(values.rows);
  const roundCount = Number(values.rounds);
  const server = await benchServer();
  try {
    const legacy = await server.database("legacy");
    console.log(`building a legacy accounts table of ${rows} rows (${server.kind} Postgres)…`);
    await buildLegacy(legacy, rows);

    const runOurs = async (url: string) =>
      timed(url, rows, async () => {
        const report = await migrate({ databaseUrl: url, action: "up", backup: false });
        if (!report.ok) throw new Error(`migration failed: ${report.error?.message}`);
      });
    const runNaive = async (url: string) =>
      timed(url, rows, async () => {
        const sql = createSql(url, { max: 1 });
        await sql.unsafe(NAIVE_SEED).simple();
        await sql.end();
      });
    const ours: Result[] = [];
    const naive: Result[] = [];
    for (let round = 0; round < roundCount; round++) {
      const oursUrl = await server.database(`ours_${round}`, { template: legacy });
      const naiveUrl = await server.database(`naive_${round}`, { template: legacy });
      // Alternate which side goes first, so neither always meets a warmer or busier server.
      const oursFirst = round % 2 === 0;
      if (oursFirst) {
        ours.push(await runOurs(oursUrl));
        naive.push(await runNaive(naiveUrl));
      } else {
        naive.push(await runNaive(naiveUrl));
        ours.push(await runOurs(oursUrl));
      }
      const o = ours.at(-1) as Result;
      const n = naive.at(-1) as Result;
      console.log(
        `round ${round + 1} (${oursFirst ? "runner first" : "naive first"}): runner stall ${o.maxStallMs.toFixed(1)} ms in ${o.totalMs.toFixed(0)} ms; naive stall ${n.maxStallMs.toFixed(1)} ms in ${n.totalMs.toFixed(0)} ms`,
      );
    }
    const stall = (results: Result[]) => ({
      median: median(results.map((r) => r.maxStallMs)),
      worst: Math.max(...results.map((r) => r.maxStallMs)),
    });
    const oursStall = stall(ours);
    const naiveStall = stall(naive);
    const oursTotal = median(ours.map((r) => r.totalMs));
    const naiveTotal = median(naive.map((r) => r.totalMs));
    const ratio = naiveStall.median / Math.max(oursStall.median, 0.001);
    console.log("");
    console.log(
      `over ${roundCount} rounds        median total ms   median stall ms   worst stall ms`,
    );
    console.log(
      `runner (concurrent)  ${oursTotal.toFixed(0).padStart(15)}   ${oursStall.median.toFixed(1).padStart(15)}   ${oursStall.worst.toFixed(1).padStart(14)}`,
    );
    console.log(
      `naive (one tx)       ${naiveTotal.toFixed(0).padStart(15)}   ${naiveStall.median.toFixed(1).padStart(15)}   ${naiveStall.worst.toFixed(1).padStart(14)}`,
    );
    console.log(
      `median stall ratio naive/runner: ${ratio.toFixed(1)}x (goal: runner < 100 ms and ratio >= 4)`,
    );
    console.log(
      JSON.stringify({
        bench: "migration",
        rows,
        rounds: roundCount,
        total_ms: Math.round(oursTotal),
        max_write_stall_ms: Number(oursStall.median.toFixed(1)),
        worst_write_stall_ms: Number(oursStall.worst.toFixed(1)),
        naive_max_write_stall_ms: Number(naiveStall.median.toFixed(1)),
        naive_worst_write_stall_ms: Number(naiveStall.worst.toFixed(1)),
        stall_ratio: Number(ratio.toFixed(1)),
      }),
    );
  } finally {
    await server.close();
  }
}

/**
 * `npm run bench -- migration [--rows N]`
 * A legacy accounts table of 1,000,000 rows, a writer updating and inserting
 * rows without pause, and `up`: how long it takes and the longest the writer
 * was blocked. The same against a naive single-transaction version of the
 * seed (plain CREATE INDEX under the ALTER's exclusive lock), side by side.
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

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { rows: { type: "string", default: "1000000" } } });
  const rows = Number(values.rows);
  const server = await benchServer();
  try {
    const ours = await server.database("ours");
    const naive = await server.database("naive");
    console.log(`building two legacy accounts tables of ${rows} rows (${server.kind} Postgres)…`);
    await Promise.all([buildLegacy(ours, rows), buildLegacy(naive, rows)]);

    const oursResult = await timed(ours, rows, async () => {
      const report = await migrate({ databaseUrl: ours, action: "up", backup: false });
      if (!report.ok) throw new Error(`migration failed: ${report.error?.message}`);
    });
    const naiveResult = await timed(naive, rows, async () => {
      const sql = createSql(naive, { max: 1 });
      await sql.unsafe(NAIVE_SEED).simple();
      await sql.end();
    });
    const ratio = naiveResult.maxStallMs / Math.max(oursResult.maxStallMs, 0.001);
    console.log("");
    console.log("                      total ms   longest write stall ms   writes");
    console.log(
      `runner (concurrent)  ${oursResult.totalMs.toFixed(0).padStart(9)}   ${oursResult.maxStallMs.toFixed(1).padStart(22)}   ${oursResult.writes}`,
    );
    console.log(
      `naive (one tx)       ${naiveResult.totalMs.toFixed(0).padStart(9)}   ${naiveResult.maxStallMs.toFixed(1).padStart(22)}   ${naiveResult.writes}`,
    );
    console.log(
      `stall ratio naive/runner: ${ratio.toFixed(1)}x (goal: runner < 100 ms and ratio >= 4)`,
    );
    console.log(
      JSON.stringify({
        bench: "migration",
        rows,
        total_ms: Math.round(oursResult.totalMs),
        max_write_stall_ms: Number(oursResult.maxStallMs.toFixed(1)),
        naive_max_write_stall_ms: Number(naiveResult.maxStallMs.toFixed(1)),
        stall_ratio: Number(ratio.toFixed(1)),
      }),
    );
  } finally {
    await server.close();
  }
}

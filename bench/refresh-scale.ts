/**
 * `npm run bench -- refresh-scale [--accounts N] [--latency MS] [--concurrency C] [--workers 1,2,4]`
 * The refresh fan-out: 4,000 due KIS accounts with distinct app keys, the
 * broker sandbox (its own process) answering after 200 ms, and the refresh
 * job run as 1, 2 and 4 worker processes (`npm run refresh -- --workers N`'s
 * own code path), concurrency 4 each, against one database. Each round gets
 * fresh accounts and app keys (KIS allows one issue a minute per key).
 * Workers load and connect first, then start together (node's start-up of
 * N processes on a busy 2-core machine is not the refresh); accounts per
 * second per round are over the refresh itself, from the workers' own start
 * and duration, with the figure including process start-up alongside; the 4-worker speed-up, accounts
 * issued twice (sandbox's per-key count and the attempts table) and
 * rate-limit answers. Goals: scaling_4 >= 3.5, duplicates 0, rate_limited 0.
 */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import pLimit from "p-limit";
import { createAccount, parseCreateAccount } from "../core/accounts";
import { createCipher, createLocalKeyProvider } from "../core/crypto";
import { createSql, type Sql } from "../core/db";
import { migrate } from "../core/migrations";
import { runRefreshWorkers, totalOf } from "../dev/refresh-workers";
import { benchServer } from "./_database";
import { processCpuMs, startSandboxProcess } from "./_sandbox";

interface SandboxStats {
  requests: number;
  issued: { total: number; byAppKey: Record<string, number> };
  rejections: { byCode: Record<string, number> };
  faults: { rate_limit: number };
}

/** CPU time of this process's children that have exited (the workers), from /proc/self/stat. */
async function waitedChildrenCpuMs(): Promise<number> {
  const stat = await readFile("/proc/self/stat", "utf8").catch(() => "");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[13] and [14] are cutime and cstime in clock ticks (100 a second).
  return ((Number(fields[13] ?? 0) + Number(fields[14] ?? 0)) * 1000) / 100;
}

async function createRound(
  sql: Sql,
  cipher: ReturnType<typeof createCipher>,
  round: number,
  accounts: number,
): Promise<void> {
  // The previous round's accounts go (their state and tokens cascade), so every round starts with `accounts` due.
  await sql`DELETE FROM accounts`;
  await sql`DELETE FROM broker_issuance_slots`;
  const limit = pLimit(8);
  await Promise.all(
    Array.from({ length: accounts }, (_, i) =>
      limit(() =>
        createAccount(
          sql,
          cipher,
          parseCreateAccount({
            name: `scale-${round}-${i}`,
            account_type: "SECURITIES_STOCK",
            exchange: "KIS",
            environment: "real",
            api_key: `PSSCALE${round}R${String(i).padStart(7, "0")}`,
            api_secret: randomBytes(24).toString("base64url"),
            securities_config: {
              account_number: "12345678",
              product_code: "01",
              market_type: "DOMESTIC_STOCK",
            },
          }),
        ),
      ),
    ),
  );
  await sql`VACUUM ANALYZE accounts`;
  await sql`CHECKPOINT`;
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      accounts: { type: "string", default: "4000" },
      concurrency: { type: "string", default: "4" },
      latency: { type: "string", default: "200" },
      workers: { type: "string", default: "1,2,4" },
    },
  });
  const accounts = Number(values.accounts);
  const concurrency = Number(values.concurrency);
  const latencyMs = Number(values.latency);
  const rounds = values.workers.split(",").map(Number);
  if (rounds.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error(`--workers must list whole numbers like 1,2,4, not "${values.workers}"`);
  }
  const server = await benchServer();
  const sandbox = await startSandboxProcess(latencyMs);
  const masterKey = randomBytes(32);
  try {
    const url = await server.database("refresh_scale");
    const migrated = await migrate({ databaseUrl: url, action: "up", backup: false });
    if (!migrated.ok) throw new Error(`migration failed: ${migrated.error?.message}`);
    const sql = createSql(url, { max: 10 });
    const cipher = createCipher({ sql, keys: createLocalKeyProvider({ masterKey }) });
    const workerEnv = {
      ...process.env,
      ...sandbox.env,
      DATABASE_URL: url,
      LOCAL_MASTER_KEY: masterKey.toString("base64"),
      REFRESH_CONCURRENCY: String(concurrency),
      REFRESH_TIME_BUDGET_MS: "900000",
      BROKER_TIMEOUT_MS: "10000",
      LOG_LEVEL: "warn",
    };
    const results: {
      workers: number;
      wallMs: number;
      issued: number;
      perSecond: number;
      wallPerSecond: number;
      duplicates: number;
      rateLimited: number;
      failed: number;
      claimedElsewhere: number;
      cpuMs: number;
      sandboxCpuMs: number;
    }[] = [];
    for (const [round, workers] of rounds.entries()) {
      console.log(
        `round ${round + 1}: creating ${accounts} KIS accounts (${server.kind} Postgres)…`,
      );
      await createRound(sql, cipher, round, accounts);
      await fetch(`${sandbox.url}/_sandbox/reset-stats`, { method: "POST" });
      console.log(
        `  ${workers} worker process(es), concurrency ${concurrency} each, broker latency ${latencyMs} ms…`,
      );
      const sandboxCpuBefore = await processCpuMs(sandbox.child.pid);
      const cpuBefore = await waitedChildrenCpuMs();
      const started = performance.now();
      const ran = await runRefreshWorkers({
        databaseUrl: url,
        count: workers,
        env: workerEnv,
        startTogether: true,
      });
      const wallMs = performance.now() - started;
      // The refresh itself: first worker's start to last worker's end, without node's start-up.
      const spans = ran.map((r) => {
        const start = Date.parse(r.summary?.startedAt ?? "");
        return { start, end: start + (r.summary?.durationMs ?? 0) };
      });
      const runMs = Math.max(...spans.map((s) => s.end)) - Math.min(...spans.map((s) => s.start));
      // The workers are children of this process: their CPU is in the tree's count.
      const cpuMs = (await waitedChildrenCpuMs()) - cpuBefore;
      const sandboxCpuMs = (await processCpuMs(sandbox.child.pid)) - sandboxCpuBefore;
      for (const r of ran) {
        if (!r.summary) throw new Error(`worker ${r.index} printed no summary: ${r.stderr}`);
      }
      const total = totalOf(ran);
      const stats = (await (await fetch(`${sandbox.url}/_sandbox/stats`)).json()) as SandboxStats;
      const twiceAtBroker = Object.values(stats.issued.byAppKey).filter((n) => n > 1).length;
      const [twiceInDb] = await sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM (
          SELECT account_id FROM securities_token_attempts
          WHERE action = 'issue' AND outcome = 'ok' GROUP BY account_id HAVING count(*) > 1
        ) twice
      `;
      const rateLimited =
        (stats.rejections.byCode.EGW00133 ?? 0) +
        (stats.rejections.byCode.EGW00201 ?? 0) +
        stats.faults.rate_limit;
      const [stored] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM securities_tokens`;
      if (stored?.n !== accounts) {
        throw new Error(
          `round ${round + 1} left ${accounts - (stored?.n ?? 0)} accounts without a token`,
        );
      }
      const result = {
        workers,
        wallMs,
        issued: total.issued,
        perSecond: total.issued / (runMs / 1000),
        wallPerSecond: total.issued / (wallMs / 1000),
        duplicates: Math.max(twiceAtBroker, twiceInDb?.n ?? 0),
        rateLimited,
        failed: total.failed,
        claimedElsewhere: total.claimedElsewhere,
        cpuMs,
        sandboxCpuMs,
      };
      results.push(result);
      console.log(
        `  refresh ${(runMs / 1000).toFixed(1)} s (all workers set up, then started together: first start to last end), wall ${(wallMs / 1000).toFixed(1)} s with process start; issued ${total.issued} (sandbox ${stats.issued.total}); ${result.perSecond.toFixed(1)} accounts/s (${result.wallPerSecond.toFixed(1)}/s with process start), ideal ${((workers * concurrency * 1000) / latencyMs).toFixed(0)}/s; failed ${total.failed}, deferred ${total.deferred}, claims lost to another worker ${total.claimedElsewhere}; CPU of the workers ${cpuMs.toFixed(0)} ms, sandbox ${sandboxCpuMs.toFixed(0)} ms`,
      );
    }
    await sql.end();
    const base = results[0]?.perSecond ?? 0;
    const last = results.at(-1);
    const scaling = base > 0 && last ? last.perSecond / base : 0;
    console.log("");
    console.log(
      `scaling ${rounds[0]}→${last?.workers} workers: ${scaling.toFixed(2)}x (goal >= 3.5 for 1→4); duplicates ${results.reduce((n, r) => n + r.duplicates, 0)}; rate-limited ${results.reduce((n, r) => n + r.rateLimited, 0)}`,
    );
    console.log(
      JSON.stringify({
        bench: "refresh-scale",
        accounts,
        workers: rounds,
        accounts_per_s: results.map((r) => Number(r.perSecond.toFixed(1))),
        accounts_per_s_with_process_start: results.map((r) => Number(r.wallPerSecond.toFixed(1))),
        scaling_4: Number(scaling.toFixed(2)),
        duplicates: results.reduce((n, r) => n + r.duplicates, 0),
        rate_limited: results.reduce((n, r) => n + r.rateLimited, 0),
      }),
    );
  } finally {
    sandbox.child.kill("SIGTERM");
    await server.close();
  }
}

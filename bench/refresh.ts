/**
 * `npm run bench -- refresh [--accounts N] [--concurrency C] [--latency MS]`
 * 10,000 securities accounts due for a token, the broker sandbox (its own
 * process, answering after 50 ms) and one refresh run: wall time next to the
 * ideal for the concurrency (accounts × latency / concurrency), rate-limit
 * rejections, and the plan of the seed's due-token query on that table.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pLimit from "p-limit";
import { createAccount, parseCreateAccount } from "../core/accounts";
import { createBrokerRegistry, parseBrokerSettings } from "../core/brokers";
import { createCipher, createLocalKeyProvider } from "../core/crypto";
import { createSql } from "../core/db";
import { migrate } from "../core/migrations";
import { createTokenService, refreshDueTokens } from "../core/tokens";
import { freePort } from "../dev/embedded-postgres";
import { benchServer } from "./_database";

async function startSandboxProcess(
  latencyMs: number,
): Promise<{ url: string; env: Record<string, string>; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    join(import.meta.dirname, "..", "node_modules", ".bin", "tsx"),
    [join(import.meta.dirname, "..", "dev", "sandbox-cli.ts")],
    {
      env: {
        ...process.env,
        SANDBOX_PORT: String(port),
        SANDBOX_LATENCY_MS: String(latencyMs),
        LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const env: Record<string, string> = {};
  await new Promise<void>((resolve, reject) => {
    let buffer = "";
    child.once("exit", () => reject(new Error("the sandbox exited before it was ready")));
    child.stdout?.on("data", (chunk) => {
      buffer += String(chunk);
      for (const line of buffer.split("\n")) {
        const match = /^([A-Z_]+_URL)=(\S+)$/.exec(line.trim());
        if (match) env[match[1] as string] = match[2] as string;
      }
      if (Object.keys(env).length === 4) resolve();
    });
  });
  return { url: `http://127.0.0.1:${port}`, env, child };
}

/**
 * User + system CPU time in ms of a process and its children (the sandbox runs
 * as tsx's child process), from /proc; 0 where /proc is absent.
 */
async function processCpuMs(pid: number | undefined): Promise<number> {
  if (!pid) return 0;
  const statOf = async (id: string) => {
    try {
      const stat = await readFile(`/proc/${id}/stat`, "utf8");
      return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    } catch {
      return undefined;
    }
  };
  let total = 0;
  for (const id of await readdir("/proc").catch(() => [] as string[])) {
    if (!/^\d+$/.test(id)) continue;
    const fields = await statOf(id);
    // fields[1] is the parent pid; [11] and [12] are user and system clock ticks.
    if (fields && (id === String(pid) || fields[1] === String(pid))) {
      total += ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
    }
  }
  return total;
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      accounts: { type: "string", default: "10000" },
      concurrency: { type: "string", default: "8" },
      latency: { type: "string", default: "50" },
    },
  });
  const accounts = Number(values.accounts);
  const concurrency = Number(values.concurrency);
  const latencyMs = Number(values.latency);
  const server = await benchServer();
  const sandbox = await startSandboxProcess(latencyMs);
  try {
    const url = await server.database("refresh");
    const migrated = await migrate({ databaseUrl: url, action: "up", backup: false });
    if (!migrated.ok) throw new Error(`migration failed: ${migrated.error?.message}`);
    const sql = createSql(url, { max: concurrency + 4 });
    const cipher = createCipher({
      sql,
      keys: createLocalKeyProvider({ masterKey: randomBytes(32) }),
    });
    console.log(`creating ${accounts} KIS accounts (${server.kind} Postgres)…`);
    const limit = pLimit(16);
    await Promise.all(
      Array.from({ length: accounts }, (_, i) =>
        limit(() =>
          createAccount(
            sql,
            cipher,
            parseCreateAccount({
              name: `bench-${i}`,
              account_type: "SECURITIES_STOCK",
              exchange: "KIS",
              environment: "real",
              api_key: `PSBENCH${String(i).padStart(8, "0")}`,
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
    const brokers = createBrokerRegistry(
      parseBrokerSettings({ ...sandbox.env, BROKER_TIMEOUT_MS: "10000" }),
    );
    const tokens = createTokenService({
      sql,
      cipher,
      brokers,
      settings: { refreshConcurrency: concurrency, refreshTimeBudgetMs: 900_000 },
    });
    console.log(`refreshing with concurrency ${concurrency}, broker latency ${latencyMs} ms…`);
    const cpuBefore = process.cpuUsage();
    const sandboxCpuBefore = await processCpuMs(sandbox.child.pid);
    const started = performance.now();
    const summary = await refreshDueTokens({ sql, tokens });
    const wallMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    const sandboxCpuMs = (await processCpuMs(sandbox.child.pid)) - sandboxCpuBefore;
    const idealMs = (accounts * latencyMs) / concurrency;
    const stats = (await (await fetch(`${sandbox.url}/_sandbox/stats`)).json()) as {
      issued: { total: number };
      rejections: { byCode: Record<string, number> };
      faults: { rate_limit: number };
    };
    const rateLimited =
      (stats.rejections.byCode.EGW00133 ?? 0) +
      (stats.rejections.byCode.EGW00201 ?? 0) +
      stats.faults.rate_limit;
    await sql`ANALYZE securities_tokens`;
    const plan = await sql<{ "QUERY PLAN": string }[]>`
      EXPLAIN SELECT * FROM securities_tokens WHERE expires_at <= NOW() + INTERVAL '6 hours'
    `;
    const planLine = (plan[0]?.["QUERY PLAN"] ?? "").trim();
    await sql.end();
    const ratio = wallMs / idealMs;
    console.log("");
    console.log(
      `issued ${summary.issued} (sandbox counted ${stats.issued.total}), failed ${summary.failed}, deferred ${summary.deferred}`,
    );
    console.log(
      `wall ${wallMs.toFixed(0)} ms, ideal ${idealMs.toFixed(0)} ms, ratio ${ratio.toFixed(2)} (goal <= 1.3)`,
    );
    console.log(
      `CPU during the run: this process ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms, sandbox process ${sandboxCpuMs.toFixed(0)} ms (2 cores = ${(2 * wallMs).toFixed(0)} ms available)`,
    );
    console.log(`rate-limit rejections: ${rateLimited} (goal 0)`);
    console.log(`due-token query plan: ${planLine}`);
    console.log(
      JSON.stringify({
        bench: "refresh",
        accounts,
        concurrency,
        wall_ms: Math.round(wallMs),
        ideal_ms: Math.round(idealMs),
        ratio: Number(ratio.toFixed(2)),
        rate_limited: rateLimited,
        plan: planLine,
      }),
    );
  } finally {
    sandbox.child.kill("SIGTERM");
    await server.close();
  }
}

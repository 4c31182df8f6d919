import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import pLimit from "p-limit";
import { createAccount, parseCreateAccount } from "../core/accounts";
import { createBrokerRegistry, parseBrokerSettings } from "../core/brokers";
import { createCipher, createLocalKeyProvider } from "../core/crypto";
import { createSql } from "../core/db";
import { migrate } from "../core/migrations";
import { createTokenService, refreshDueTokens } from "../core/tokens";
import { benchServer } from "./_database";
import { processCpuMs, startSandboxProcess } from "./_sandbox";

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

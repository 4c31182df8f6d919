/**
 * `npm run bench -- api [--reads N] [--http-seconds S] [--concurrency C]`
 *
 * In one run, on real Postgres (DATABASE_URL's server or a throwaway embedded one):
 * - p50/p99 of getValidToken for a cached token, in process, next to a bare
 *   `SELECT 1` on the same pool (interleaved, so both see the same machine);
 *   goal: ratio of the p50s at most 2;
 * - KMS Decrypt calls per 1,000 reads by a fresh process (KMS mocked with
 *   aws-sdk-client-mock at the SDK boundary); goal: at most 1;
 * - requests/s of GET /accounts/{id}/token through the local HTTP server.
 * Last line: one JSON object.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DecryptCommand, KMSClient } from "@aws-sdk/client-kms";
import { serve } from "@hono/node-server";
import { mockClient } from "aws-sdk-client-mock";
import { createStaticKeyStore, generateApiKey } from "../core/auth";
import { createKmsKeyProvider } from "../core/crypto";
import { silentLogger } from "../core/log";
import { migrate } from "../core/migrations";
import { createLocalRuntime } from "../dev/local-runtime";
import { startBrokerSandbox } from "../dev/sandbox";
import { fakeKms } from "../test/support/kms";
import { benchServer } from "./_database";

const KEY_ID = "arn:aws:kms:ap-northeast-2:111122223333:key/bench";

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

function round(value: number, digits = 1): number {
  return Math.round(value * 10 ** digits) / 10 ** digits;
}

/** A KMS that wraps by prefixing, so Decrypt can answer; counts what it is asked. */
function mockKms() {
  const kms = mockClient(KMSClient);
  fakeKms(kms, KEY_ID);
  return kms;
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      reads: { type: "string", default: "5000" },
      "http-seconds": { type: "string", default: "5" },
      concurrency: { type: "string", default: "32" },
    },
  });
  const reads = Number(values.reads);
  const httpSeconds = Number(values["http-seconds"]);
  const concurrency = Number(values.concurrency);

  const server = await benchServer();
  const dataDir = await mkdtemp(join(tmpdir(), "securities-support-bench-api-"));
  const sandbox = await startBrokerSandbox({ port: 0 });
  const kms = mockKms();
  const admin = generateApiKey("bench", ["admin"]);
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    const databaseUrl = await server.database("api");
    const report = await migrate({ databaseUrl, action: "up", backup: false });
    if (!report.ok) throw new Error(`migration failed: ${report.error?.message}`);
    const env = { ...sandbox.env, DATA_DIR: dataDir };
    const build = () =>
      createLocalRuntime({
        databaseUrl,
        env,
        apiKeys: createStaticKeyStore([admin.record]),
        logger: silentLogger,
        keys: createKmsKeyProvider({
          keyId: KEY_ID,
          client: new KMSClient({ region: "ap-northeast-2" }),
        }),
      });

    // A first process creates the account and its token.
    const first = await build();
    cleanups.push(first.close);
    const created = await first.app.request("/accounts", {
      method: "POST",
      headers: { authorization: `Bearer ${admin.key}` },
      body: JSON.stringify({
        name: "bench",
        account_type: "SECURITIES_STOCK",
        exchange: "KIS",
        environment: "paper",
        api_key: `PSbench${randomBytes(6).toString("hex")}`,
        api_secret: randomBytes(16).toString("hex"),
        securities_config: {
          account_number: "12345678",
          product_code: "01",
          market_type: "DOMESTIC_STOCK",
        },
      }),
    });
    if (created.status !== 201) throw new Error(`account creation failed: ${await created.text()}`);
    const { id } = (await created.json()) as { id: number };
    await first.tokens.getValidToken(id);

    // A fresh process (cold data-key cache) reads the token 1,000 times.
    const fresh = await build();
    cleanups.push(fresh.close);
    kms.resetHistory();
    for (let i = 0; i < 1000; i++) await fresh.tokens.getValidToken(id);
    const decrypts = kms.commandCalls(DecryptCommand).length;

    // Latency, interleaved with SELECT 1 on the same pool.
    for (let i = 0; i < 500; i++) {
      await fresh.sql`SELECT 1`;
      await fresh.tokens.getValidToken(id);
    }
    const tokenUs: number[] = [];
    const selectUs: number[] = [];
    for (let i = 0; i < reads; i++) {
      let started = process.hrtime.bigint();
      await fresh.sql`SELECT 1`;
      selectUs.push(Number(process.hrtime.bigint() - started) / 1000);
      started = process.hrtime.bigint();
      await fresh.tokens.getValidToken(id);
      tokenUs.push(Number(process.hrtime.bigint() - started) / 1000);
    }
    tokenUs.sort((a, b) => a - b);
    selectUs.sort((a, b) => a - b);

    // Requests per second through the local HTTP server.
    const http = serve({ fetch: fresh.app.fetch, port: 0, hostname: "127.0.0.1" });
    await new Promise<void>((ready) => http.once("listening", () => ready()));
    cleanups.unshift(() => new Promise<void>((done) => http.close(() => done())));
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/accounts/${id}/token`;
    const headers = { authorization: `Bearer ${admin.key}` };
    const until = performance.now() + httpSeconds * 1000;
    let completed = 0;
    let failed = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < until) {
          const response = await fetch(url, { headers });
          await response.arrayBuffer();
          if (response.status === 200) completed++;
          else failed++;
        }
      }),
    );
    const rps = completed / ((performance.now() - started) / 1000);

    const result = {
      bench: "api",
      token_p50_us: round(percentile(tokenUs, 50)),
      token_p99_us: round(percentile(tokenUs, 99)),
      select1_p50_us: round(percentile(selectUs, 50)),
      ratio: round(percentile(tokenUs, 50) / percentile(selectUs, 50), 2),
      kms_decrypts_per_1000: decrypts,
      http_rps: Math.round(rps),
    };
    console.log(`database: ${server.kind} Postgres; ${reads} interleaved reads`);
    console.log(
      `getValidToken (cached)  p50 ${result.token_p50_us} us   p99 ${result.token_p99_us} us`,
    );
    console.log(
      `SELECT 1                p50 ${result.select1_p50_us} us   p99 ${round(percentile(selectUs, 99))} us`,
    );
    console.log(`ratio of p50s           ${result.ratio} (goal <= 2)`);
    console.log(`KMS Decrypt calls per 1,000 reads by a fresh process: ${decrypts} (goal <= 1)`);
    console.log(
      `HTTP GET /accounts/{id}/token: ${result.http_rps} requests/s (${concurrency} concurrent, ${httpSeconds} s${failed ? `, ${failed} non-200` : ""})`,
    );
    console.log(JSON.stringify(result));
  } finally {
    for (const cleanup of cleanups) await cleanup().catch(() => {});
    kms.restore();
    await sandbox.close();
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

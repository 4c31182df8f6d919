/**
 * A real database outage under traffic: a Postgres of this test's own
 * (never the run's shared server) is stopped while clients keep calling the
 * API, then started again. While it is down every answer is a fast 503
 * (GET /health says the database is unreachable); once it is back the API
 * answers 200 again within moments. Before postgres.js's reconnect backoff
 * was capped, it grew to 20 s: 503s took many seconds and recovery waited
 * out the last backoff.
 */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { afterAll, beforeAll, expect, it } from "vitest";
import { generateApiKey } from "../../core/auth";
import { createLocalKeyProvider } from "../../core/crypto";
import { silentLogger } from "../../core/log";
import { migrate } from "../../core/migrations";
import { type EmbeddedDatabase, startEmbeddedPostgres } from "../../dev/embedded-postgres";
import { createLocalRuntime, type LocalRuntime } from "../../dev/local-runtime";
import { startTestBrokerSandbox, type TestBrokerSandbox } from "../support/sandbox";

// Generous for a busy machine, yet far below what the uncapped backoff gave
// (answers of 3 to 20 s once a few reconnects had failed).
const SLOWEST_ANSWER_MS = 2_000;
const RECOVERY_MS = 3_000;
const OUTAGE_MS = 6_000;

let dir: string;
let server: EmbeddedDatabase | undefined;
let runtime: LocalRuntime;
let sandbox: TestBrokerSandbox;
let http: ReturnType<typeof serve>;
let base: string;
const admin = generateApiKey("outage-admin", ["admin"]);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "securities-support-outage-"));
  await chmod(dir, 0o755);
  server = await startEmbeddedPostgres({ dataDir: join(dir, "pg") });
  const report = await migrate({ databaseUrl: server.url, action: "up", backup: false });
  expect(report.ok).toBe(true);
  sandbox = await startTestBrokerSandbox();
  runtime = await createLocalRuntime({
    databaseUrl: server.url,
    env: { ...sandbox.env, DATA_DIR: dir },
    apiKeys: { description: "the test's keys", keys: async () => [admin.record] },
    logger: silentLogger,
    keys: createLocalKeyProvider({ masterKey: Buffer.alloc(32, 7) }),
    maxConnections: 5,
  });
  http = serve({ fetch: runtime.app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise<void>((resolve) => http.once("listening", () => resolve()));
  base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => http?.close(() => resolve()));
  await runtime?.close();
  await sandbox?.stop();
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

interface Answer {
  path: string;
  at: number;
  ms: number;
  status: number;
  body: string;
}

it("answers 503 fast while Postgres is down and 200 within moments of its return", async () => {
  const answers: Answer[] = [];
  let running = true;
  const client = async (path: string) => {
    while (running) {
      const at = performance.now();
      const response = await fetch(`${base}${path}`, {
        headers: { authorization: `Bearer ${admin.key}` },
      });
      const body = await response.text();
      answers.push({ path, at, ms: performance.now() - at, status: response.status, body });
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };
  const clients = ["/health", "/health", "/accounts", "/accounts", "/tokens/status"].map(client);

  await new Promise((resolve) => setTimeout(resolve, 500));
  const port = server?.port as number;
  await server?.stop();
  server = undefined;
  const downAt = performance.now();
  await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
  server = await startEmbeddedPostgres({ dataDir: join(dir, "pg"), port });
  const upAt = performance.now();
  // Wait for every client to be answered 200 again, for as long as the old backoff could take.
  const recovered = async () => {
    const deadline = upAt + 30_000;
    for (;;) {
      const last = new Map(answers.filter((a) => a.at >= upAt).map((a) => [a.path, a.status]));
      if (last.size === 3 && [...last.values()].every((s) => s === 200)) return;
      if (performance.now() > deadline) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  await recovered();
  running = false;
  await Promise.all(clients);

  const slowest = Math.max(...answers.map((a) => a.ms));
  expect(slowest, "the slowest answer, in ms").toBeLessThan(SLOWEST_ANSWER_MS);
  const during = answers.filter((a) => a.at >= downAt && a.at + a.ms <= upAt);
  expect(during.length).toBeGreaterThan(10);
  // Down: a 503 problem (never a 500), and /health names the database.
  for (const a of during)
    expect(a.status, `${a.path} at +${Math.round(a.at - downAt)} ms`).toBe(503);
  const health = during.find((a) => a.path === "/health");
  expect(JSON.parse(health?.body ?? "{}")).toMatchObject({
    status: "degraded",
    database: "unreachable",
  });
  expect(answers.some((a) => a.path === "/accounts" && a.status === 503)).toBe(true);

  // Recovery: from Postgres accepting connections to every route's first 200.
  for (const path of ["/health", "/accounts", "/tokens/status"]) {
    const first = answers.find((a) => a.path === path && a.at >= upAt && a.status === 200);
    expect(first, `${path} answered 200 after the restart`).toBeDefined();
    const recoveryMs = (first?.at ?? 0) + (first?.ms ?? 0) - upAt;
    expect(recoveryMs, `${path}'s recovery, in ms`).toBeLessThan(RECOVERY_MS);
  }
}, 90_000);

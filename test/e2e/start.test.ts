import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { freePort } from "../../dev/embedded-postgres";
import { killProcessGroup, spawnDevScript } from "../support/cli";
import { connectStreamClient } from "../support/stream-client";

// Coming up includes initdb of a fresh cluster on a busy machine; stopping
// includes a clean Postgres shutdown. The test's own timeout covers both.
const START_MS = 90_000;
const STOP_MS = 30_000;
let dataDir = "";
let child: ChildProcess | undefined;

afterAll(async () => {
  // Whatever failed above, never leave npm start (and its Postgres) running.
  if (child) killProcessGroup(child, "SIGKILL");
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

it(
  "npm start serves the API on embedded defaults, runs the sandbox with the configured faults, and stops cleanly on Ctrl-C",
  async () => {
    dataDir = await mkdtemp(join(tmpdir(), "securities-support-start-"));
    await chmod(dataDir, 0o755);
    const port = await freePort();
    const hubPort = await freePort();
    const key = `script.${randomBytes(18).toString("base64url")}`;
    const env: Record<string, string | undefined> = {
      ...process.env,
      DATA_DIR: dataDir,
      PORT: String(port),
      HUB_PORT: String(hubPort),
      LOCAL_API_KEY: key,
      LOG_LEVEL: "warn",
      SANDBOX_LATENCY_MS: "7",
      SANDBOX_ERROR_RATE: "0.25",
    };
    delete env.DATABASE_URL;
    const started = spawnDevScript("start.ts", [], env);
    child = started;
    let output = "";
    started.stdout.on("data", (chunk) => {
      output += String(chunk);
    });
    started.stderr.on("data", (chunk) => {
      output += String(chunk);
    });
    const exited = new Promise<number | null>((resolve) =>
      started.on("exit", (code) => resolve(code)),
    );
    try {
      const deadline = Date.now() + START_MS;
      while (!output.includes("securities-support is running")) {
        if (Date.now() > deadline || started.exitCode !== null) {
          throw new Error(`npm start did not come up:\n${output}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const base = `http://127.0.0.1:${port}`;
      expect((await fetch(`${base}/health`)).status).toBe(200);
      const accounts = await fetch(`${base}/accounts`, {
        headers: { authorization: `Bearer ${key}` },
      });
      expect(accounts.status).toBe(200);
      // A key given in LOCAL_API_KEY is named, never printed.
      expect(output).toContain(`curl -H "Authorization: Bearer $LOCAL_API_KEY" ${base}/accounts`);
      // SANDBOX_LATENCY_MS and SANDBOX_ERROR_RATE reach the sandbox npm start runs.
      const sandboxUrl = /sandbox at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
      expect(sandboxUrl).toBeDefined();
      const config = await (await fetch(`${sandboxUrl}/_sandbox/config`)).json();
      expect(config).toMatchObject({ latencyMs: 7, errorRate: 0.25 });
      // The realtime hub runs beside the API, on the sandbox's websockets.
      expect(output).toContain(`hub        ws://127.0.0.1:${hubPort}/stream`);
      expect((await fetch(`http://127.0.0.1:${hubPort}/health`)).status).toBe(200);
      const created = await fetch(`${base}/accounts`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({
          name: "hub check",
          account_type: "SECURITIES_STOCK",
          exchange: "KIS",
          api_key: `PS${randomBytes(8).toString("hex")}`,
          api_secret: "secret-for-the-hub-check",
          securities_config: {
            account_number: "50123456",
            product_code: "01",
            market_type: "DOMESTIC_STOCK",
            hts_id: "starter",
          },
        }),
      });
      expect(created.status).toBe(201);
      const client = await connectStreamClient(`ws://127.0.0.1:${hubPort}`, key);
      client.send({
        op: "subscribe",
        account_id: ((await created.json()) as { id: number }).id,
        kind: "trade",
        symbol: "005930",
      });
      await client.next((m) => m.kind === "trade" && "fields" in m, 10_000);
      client.close();
    } finally {
      started.kill("SIGINT");
      const stopped = await Promise.race([
        exited,
        new Promise((resolve) => setTimeout(() => resolve("timeout"), STOP_MS)),
      ]);
      if (stopped === "timeout") started.kill("SIGKILL");
    }
    expect(await exited, output).toBe(0);
    expect(output).toContain("SIGINT: stopping");
    expect(output).not.toContain(key.split(".")[1]);
    // Postgres removes its pid file only when it shut down cleanly.
    expect(existsSync(join(dataDir, "pg", "postmaster.pid"))).toBe(false);
  },
  START_MS + STOP_MS + 30_000,
);

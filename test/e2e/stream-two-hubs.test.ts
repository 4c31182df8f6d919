import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { generateApiKey } from "../../core/auth";
import { leaseHolder } from "../../core/stream";
import { credentialKey } from "../../core/tokens";
import { FAST_STREAM_ENV } from "../support/hub";
import { startTestServer, type TestServer } from "../support/server";
import { connectStreamClient, type StreamClient } from "../support/stream-client";

let server: TestServer;
const children: ChildProcess[] = [];
const clients: StreamClient[] = [];
const reader = generateApiKey("reader", ["stream:read"]);

async function startHubProcess(
  owner: string,
): Promise<{ child: ChildProcess; url: string; exited: Promise<number | null> }> {
  // One node process (no tsx wrapper in between), so SIGTERM reaches the hub itself.
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(import.meta.dirname, "..", "..", "dev", "hub-process.ts")],
    {
      cwd: join(import.meta.dirname, "..", ".."),
      env: {
        ...process.env,
        ...server.sandbox.sandbox.env,
        ...FAST_STREAM_ENV,
        HUB_PROCESS_DATABASE_URL: server.db.runtimeUrl,
        HUB_PROCESS_MASTER_KEY: server.masterKey.toString("base64"),
        HUB_PROCESS_KEY_RECORD: JSON.stringify(reader.record),
        HUB_PROCESS_OWNER: owner,
        HUB_PROCESS_LOG_LEVEL: "silent",
      },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  children.push(child);
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let output = "";
    child.stdout?.on("data", (chunk) => {
      output += String(chunk);
      const match = /ready (\S+)/.exec(output);
      if (match) resolve(match[1] as string);
    });
    child.once("exit", () => reject(new Error(`hub process exited: ${output}`)));
  });
  return { child, url, exited };
}

beforeAll(async () => {
  server = await startTestServer();
  server.sandbox.sandbox.streams.configure({ pingIntervalMs: 150, ticksPerSecond: 100 });
});

afterAll(async () => {
  for (const c of clients) c.close();
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  await server?.stop();
});

test("a second hub process never opens a second broker session for one app key, and takes over when the first stops", async () => {
  const tag = randomBytes(8).toString("hex");
  const appKey = `PS${tag}`;
  const created = await server.call("/accounts", {
    method: "POST",
    body: JSON.stringify({
      name: `KIS ${tag}`,
      account_type: "SECURITIES_STOCK",
      exchange: "KIS",
      environment: "real",
      api_key: appKey,
      api_secret: `secret-${tag}`,
      securities_config: {
        account_number: "50123456",
        product_code: "01",
        market_type: "DOMESTIC_STOCK",
        hts_id: "twohubs",
      },
    }),
  });
  const accountId = ((await created.json()) as { id: number }).id;
  const first = await startHubProcess("hub-first");
  const second = await startHubProcess("hub-second");

  const a = await connectStreamClient(first.url, reader.key);
  clients.push(a);
  a.send({ op: "subscribe", account_id: accountId, kind: "trade", symbol: "005930" });
  await a.next((m) => m.kind === "trade" && "fields" in m);

  const b = await connectStreamClient(second.url, reader.key);
  clients.push(b);
  b.send({ op: "subscribe", account_id: accountId, kind: "trade", symbol: "005930" });
  expect(await b.next((m) => m.type === "subscribed")).toMatchObject({ session: "elsewhere" });
  // Several heartbeats: the second hub keeps asking for the lease and never connects.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const key = credentialKey("KIS:stream", "real", appKey);
  expect(await leaseHolder(server.db.sql, key)).toBe("hub-first");
  expect(server.sandbox.sandbox.streams.stats().conflicts).toBe(0);
  expect(b.messages.some((m) => "fields" in m)).toBe(false);

  first.child.kill("SIGTERM");
  expect(await first.exited).toBe(0);
  // Released on SIGTERM: the second takes it at its next heartbeat, not after the lease's expiry.
  await b.next((m) => m.kind === "trade" && "fields" in m, 1_500);
  expect(await leaseHolder(server.db.sql, key)).toBe("hub-second");
  expect(server.sandbox.sandbox.streams.stats().conflicts).toBe(0);
});

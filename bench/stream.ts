/**
 * `npm run bench -- stream`: the realtime hub under load, with both faults.
 * 50 clients, 200 subscriptions over 4 app keys (2 KIS, 2 Kiwoom), the
 * sandbox sending 2,000 trade frames/s (each stamped with its send time).
 * Measured: fan-out latency from the sandbox's send to each client's
 * receipt (p50, p99), frames per second, hub CPU per 1,000 frames. In the
 * same run the sandbox's sockets go silent once (a drop without a close
 * frame: the hub notices by STREAM_IDLE_TIMEOUT_MS) and the hub is restarted
 * once (a new process waits for the lease, the old gets SIGTERM and releases
 * it). Fills are sent throughout, also while no session is up (the broker's
 * day orders keep them; the hub catches up from those); one checker client
 * per account resumes its notices with `since`, and every fill must arrive
 * once, counted by each event's `fill` (order number and quantity).
 * Options: --seconds N (measured run, default 22), --rate N (frames/s, 2000),
 * --hub bundle|tsx (the hub's program: its bundle as the image runs it, the default).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import WebSocket from "ws";
import { createAccount, parseCreateAccount } from "../core/accounts";
import { generateApiKey } from "../core/auth";
import { createCipher, createLocalKeyProvider } from "../core/crypto";
import { createSql } from "../core/db";
import { migrate } from "../core/migrations";
import { startBrokerSandbox } from "../dev/sandbox";
import { lambdaBuildOptions } from "../infra/bundle";
import { benchServer } from "./_database";
import { processCpuMs } from "./_sandbox";

const CLIENTS = 50;
const SUBSCRIPTIONS_PER_CLIENT = 4;
const SYMBOLS_PER_KEY = 20;

interface BenchAccount {
  id: number;
  broker: "KIS" | "KIWOOM";
  appKey: string;
  accountNumber: string;
}

interface HubProcess {
  child: ChildProcess;
  url: string;
  exited: Promise<void>;
}

const epochNow = () => performance.timeOrigin + performance.now();

function option(args: string[], name: string, fallback: number): number {
  const index = args.indexOf(`--${name}`);
  const value = index >= 0 ? Number(args[index + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/**
 * The hub process's program: dev/hub-process.ts bundled as the image bundles
 * the hub (one ESM file, infra/bundle.ts's options), so a restart costs what
 * the container's does; `--hub tsx` runs the TypeScript through tsx instead
 * (each start compiles it, about a second of CPU on this machine).
 */
async function hubProgram(mode: string, dir: string): Promise<string[]> {
  const entry = join(import.meta.dirname, "..", "dev", "hub-process.ts");
  if (mode === "tsx") return ["--import", "tsx", entry];
  if (mode !== "bundle") throw new Error("--hub must be bundle or tsx");
  const outfile = join(dir, "hub-process.mjs");
  await build(lambdaBuildOptions({ entry, outfile }));
  return [outfile];
}

export async function main(args: string[]): Promise<void> {
  const seconds = option(args, "seconds", 22);
  const rate = option(args, "rate", 2000);
  const hubMode = args.includes("--hub") ? (args[args.indexOf("--hub") + 1] ?? "") : "bundle";
  const scratch = await mkdtemp(join(tmpdir(), "bench-stream-"));
  const program = await hubProgram(hubMode, scratch);
  const server = await benchServer();
  const url = await server.database("stream");
  const report = await migrate({ databaseUrl: url, action: "up", backup: false });
  if (!report.ok) throw new Error(`migration failed: ${report.error?.message}`);
  const sql = createSql(url, { max: 2 });
  const masterKey = randomBytes(32);
  const cipher = createCipher({ sql, keys: createLocalKeyProvider({ masterKey }) });
  const sandbox = await startBrokerSandbox({});
  sandbox.streams.configure({ pingIntervalMs: 1000, stamp: true });
  const reader = generateApiKey("bench", ["stream:read"]);

  const accounts: BenchAccount[] = [];
  for (const [index, broker] of (["KIS", "KIS", "KIWOOM", "KIWOOM"] as const).entries()) {
    const tag = randomBytes(6).toString("hex");
    const accountNumber = broker === "KIS" ? `5000000${index}` : `500000000${index}`;
    const account = await createAccount(
      sql,
      cipher,
      parseCreateAccount({
        name: `bench ${broker} ${index}`,
        account_type: "SECURITIES_STOCK",
        exchange: broker,
        environment: "real",
        api_key: `${broker === "KIS" ? "PS" : "kw"}${tag}`,
        api_secret: `secret-${tag}`,
        securities_config: {
          account_number: accountNumber,
          market_type: "DOMESTIC_STOCK",
          ...(broker === "KIS" ? { product_code: "01", hts_id: `bench${index}` } : {}),
        },
      }),
    );
    accounts.push({ id: account.id, broker, appKey: account.apiKey as string, accountNumber });
  }

  const hubs: HubProcess[] = [];
  let hubCpuMs = 0;
  let hubFramesIn = 0;
  const slowClientsDropped = 0;
  async function startHub(owner: string): Promise<HubProcess> {
    const child = spawn(process.execPath, program, {
      env: {
        ...process.env,
        ...sandbox.env,
        HUB_PROCESS_DATABASE_URL: url,
        HUB_PROCESS_MASTER_KEY: masterKey.toString("base64"),
        HUB_PROCESS_KEY_RECORD: JSON.stringify(reader.record),
        HUB_PROCESS_OWNER: owner,
        HUB_PROCESS_POOL_MAX: "4",
        HUB_PROCESS_LOG_LEVEL: process.env.BENCH_HUB_LOG_LEVEL ?? "warn",
        STREAM_IDLE_TIMEOUT_MS: "2500",
        STREAM_BACKOFF_BASE_MS: "100",
        STREAM_BACKOFF_MAX_MS: "1000",
        STREAM_LEASE_MS: "3000",
        STREAM_HEARTBEAT_MS: "250",
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const hubUrl = await new Promise<string>((resolve, reject) => {
      let output = "";
      child.stdout?.on("data", (chunk) => {
        output += String(chunk);
        const match = /ready (\S+)/.exec(output);
        if (match) resolve(match[1] as string);
      });
      child.once("exit", () => reject(new Error(`the hub exited: ${output}`)));
    });
    const hub: HubProcess = { child, url: hubUrl, exited };
    // The hub's log lines (warnings and worse) after its ready line.
    child.stdout?.on("data", (chunk) => {
      if (!String(chunk).startsWith("ready ")) process.stderr.write(chunk);
    });
    // Its start (tsx compiling) is not the hub's work per frame: counted from here.
    if (hubs.length > 0) hubCpuMs -= await processCpuMs(child.pid);
    hubs.push(hub);
    return hub;
  }
  async function retire(hub: HubProcess) {
    const health = (await (await fetch(`${hub.url.replace(/^ws/, "http")}/health`)).json()) as {
      framesIn: number;
    };
    hubFramesIn += health.framesIn;
    hubCpuMs += await processCpuMs(hub.child.pid);
    hub.child.kill("SIGTERM");
    await hub.exited;
  }

  let current = await startHub("bench-hub-1");
  const latencies: number[] = [];
  /** Latencies of frames sent at least 3 s away from either fault: the steady state. */
  const steady: number[] = [];
  let received = 0;
  let lastTradeStamp = 0;
  const faults: { at: number; recoveredAt?: number }[] = [];
  /** Per account: the seqs seen, and shares received per order (from each event's `fill`). */
  const noticesByAccount = new Map<number, { seqs: number[]; orders: Map<string, number> }>();
  const fillSources = { notice: 0, catch_up: 0, uncertain: 0 };
  const sockets = new Set<WebSocket>();
  let closing = false;

  function connectClient(index: number) {
    const account = accounts[index % accounts.length] as BenchAccount;
    const checker = index < accounts.length;
    const socket = new WebSocket(`${current.url}/stream`, {
      headers: { authorization: `Bearer ${reader.key}` },
    });
    sockets.add(socket);
    socket.on("open", () => {
      for (let s = 0; s < SUBSCRIPTIONS_PER_CLIENT; s += 1) {
        const symbol = String(100000 + ((index * SUBSCRIPTIONS_PER_CLIENT + s) % SYMBOLS_PER_KEY));
        socket.send(
          JSON.stringify({ op: "subscribe", account_id: account.id, kind: "trade", symbol }),
        );
      }
      if (checker) {
        const seen = noticesByAccount.get(account.id)?.seqs ?? [];
        socket.send(
          JSON.stringify({
            op: "subscribe",
            account_id: account.id,
            kind: "notice",
            since: seen.at(-1) ?? 0,
          }),
        );
      }
    });
    socket.on("message", (data) => {
      const message = JSON.parse(data.toString()) as {
        kind?: string;
        fields?: Record<string, string>;
        seq?: number;
        type?: string;
        message?: string;
        fill?: {
          source: "notice" | "catch_up";
          order_no: string;
          quantity: number;
          uncertain?: true;
        };
      };
      if (message.type === "error") console.error(`client ${index}: ${message.message}`);
      if (!message.fields) return;
      if (message.kind === "trade") {
        const stamp = Number(message.fields.stamp ?? message.fields._46);
        const now = epochNow();
        latencies.push(now - stamp);
        if (faults.every((fault) => Math.abs(stamp - fault.at) > 3_000)) steady.push(now - stamp);
        received += 1;
        if (stamp > lastTradeStamp) lastTradeStamp = stamp;
        for (const fault of faults)
          if (fault.recoveredAt === undefined && stamp > fault.at) fault.recoveredAt = now;
      } else if (message.kind === "notice" && checker && message.fill) {
        const list = noticesByAccount.get(account.id) ?? {
          seqs: [] as number[],
          orders: new Map<string, number>(),
        };
        list.seqs.push(message.seq as number);
        const { order_no: orderNo, quantity, source, uncertain } = message.fill;
        list.orders.set(orderNo, (list.orders.get(orderNo) ?? 0) + quantity);
        fillSources[source] += 1;
        if (uncertain) fillSources.uncertain += 1;
        noticesByAccount.set(account.id, list);
      }
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      sockets.delete(socket);
      if (!closing) setTimeout(() => connectClient(index), 50);
    });
  }

  for (let index = 0; index < CLIENTS; index += 1) connectClient(index);

  // The floor, in the same run: one client on the sandbox's KIS websocket itself
  // (its own app key, no hub), 5 symbols, measured the same way.
  const floor: number[] = [];
  const floorKey = `PSfloor${randomBytes(6).toString("hex")}`;
  const approval = (await (
    await fetch(`${sandbox.baseUrls.KIS.real}/oauth2/Approval`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        grant_type: "client_credentials",
        appkey: floorKey,
        secretkey: "floor-secret",
      }),
    })
  ).json()) as { approval_key: string };
  const direct = new WebSocket(sandbox.wsUrls.KIS.real);
  await new Promise((resolve) => direct.once("open", resolve));
  for (let s = 0; s < 5; s += 1) {
    direct.send(
      JSON.stringify({
        header: {
          approval_key: approval.approval_key,
          custtype: "P",
          tr_type: "1",
          "content-type": "utf-8",
        },
        body: { input: { tr_id: "H0STCNT0", tr_key: String(900000 + s) } },
      }),
    );
  }
  direct.on("message", (data) => {
    const text = data.toString();
    if (!text.startsWith("0|H0STCNT0|")) return;
    const stamp = Number(text.slice(text.lastIndexOf("^") + 1));
    if (faults.every((fault) => Math.abs(stamp - fault.at) > 3_000)) floor.push(epochNow() - stamp);
  });
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  sandbox.streams.configure({ ticksPerSecond: rate });

  // Fills throughout, one share of a new order each. Those sent while no session was up (the
  // drop, the hand-over) reach no notice: the broker's day orders keep them, and the hub's
  // catch-up must bring them. Every one counts as sent.
  const sent = new Map<number, string[]>();
  let order = 0;
  let whileDown = 0;
  const filler = setInterval(() => {
    const account = accounts[order % accounts.length] as BenchAccount;
    const orderNumber = String(++order).padStart(10, "0");
    const delivered = sandbox.streams.notify({
      broker: account.broker,
      environment: "real",
      appKey: account.appKey,
      // KIS notices carry CANO and ACNT_PRDT_CD together.
      accountNumber:
        account.broker === "KIS" ? `${account.accountNumber}01` : account.accountNumber,
      orderNumber,
      symbol: "005930",
      side: "buy",
      status: "filled",
      orderQuantity: 1,
      filledQuantity: 1,
      price: 70_000,
    });
    sent.set(account.id, [...(sent.get(account.id) ?? []), String(order)]);
    if (!delivered) whileDown += 1;
  }, 50);

  const startedAt = performance.now();
  const sentBefore = sandbox.streams.stats().framesSent;
  const cpuBefore = await processCpuMs(current.child.pid);
  hubCpuMs -= cpuBefore;
  const at = (fraction: number) =>
    new Promise((resolve) =>
      setTimeout(resolve, seconds * 1000 * fraction - (performance.now() - startedAt)),
    );

  await at(0.2);
  faults.push({ at: epochNow() });
  console.log(`silent drop of ${sandbox.streams.drop()} broker sockets`);
  await at(0.55);
  const next = await startHub("bench-hub-2");
  faults.push({ at: epochNow() });
  const previous = current;
  current = next;
  console.log("hub restart: the old hub gets SIGTERM, the new one waits for the leases");
  await retire(previous);
  await at(1);

  clearInterval(filler);
  sandbox.streams.configure({ ticksPerSecond: 0 });
  const elapsedS = (performance.now() - startedAt) / 1000;
  const framesSent = sandbox.streams.stats().framesSent - sentBefore;
  // The last fills may still be on their way on a loaded machine (a checker
  // dropped as slow reconnects and resumes): wait until every sent one
  // arrived, or nothing more arrives for 10 s.
  const arrived = () => [...noticesByAccount.values()].reduce((n, list) => n + list.orders.size, 0);
  const expectedTotal = [...sent.values()].reduce((n, list) => n + list.length, 0);
  for (let last = -1, quietSince = performance.now(); performance.now() - quietSince < 10_000; ) {
    if (arrived() >= expectedTotal) break;
    if (arrived() !== last) {
      last = arrived();
      quietSince = performance.now();
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  closing = true;
  for (const socket of sockets) socket.close();
  await retire(current);

  let noticesSent = 0;
  let noticesReceived = 0;
  let gaps = 0;
  let duplicates = 0;
  for (const account of accounts) {
    const expected = sent.get(account.id) ?? [];
    const got = noticesByAccount.get(account.id) ?? {
      seqs: [] as number[],
      orders: new Map<string, number>(),
    };
    noticesSent += expected.length;
    noticesReceived += got.orders.size;
    // A seq seen twice, or an order of one share told more than one.
    duplicates += got.seqs.length - new Set(got.seqs).size;
    duplicates += [...got.orders.values()].filter((shares) => shares > 1).length;
    const missing = expected.filter((number) => !got.orders.has(number));
    gaps += missing.length;
    if (missing.length)
      console.log(
        `${account.broker} account ${account.id}: ${missing.length} of ${expected.length} fills missing (${missing.slice(0, 5).join(", ")}…)`,
      );
  }
  latencies.sort((a, b) => a - b);
  steady.sort((a, b) => a - b);
  floor.sort((a, b) => a - b);
  direct.close();
  const recovery = faults.map((fault) => ((fault.recoveredAt ?? Number.NaN) - fault.at) / 1000);
  const result = {
    bench: "stream",
    clients: CLIENTS,
    subscriptions: CLIENTS * SUBSCRIPTIONS_PER_CLIENT,
    app_keys: accounts.length,
    frames_per_s: Math.round(framesSent / elapsedS),
    // The sandbox sends only to live sessions: none while the hub is finding out that its
    // sockets went silent (up to STREAM_IDLE_TIMEOUT_MS) or while a new hub takes over.
    frames_per_s_while_up: Math.round(
      framesSent / (elapsedS - recovery.reduce((sum, s) => sum + (Number.isNaN(s) ? 0 : s), 0)),
    ),
    client_frames_per_s: Math.round(received / elapsedS),
    p50_ms: Math.round(percentile(latencies, 50) * 100) / 100,
    p99_ms: Math.round(percentile(latencies, 99) * 100) / 100,
    steady_p50_ms: Math.round(percentile(steady, 50) * 100) / 100,
    steady_p99_ms: Math.round(percentile(steady, 99) * 100) / 100,
    floor_p50_ms: Math.round(percentile(floor, 50) * 100) / 100,
    floor_p99_ms: Math.round(percentile(floor, 99) * 100) / 100,
    steady_p99_over_floor_p99:
      Math.round((percentile(steady, 99) / percentile(floor, 99)) * 100) / 100,
    hub_cpu_ms_per_1000_frames: Math.round((hubCpuMs / (hubFramesIn / 1000)) * 10) / 10,
    notices_sent: noticesSent,
    notices_sent_while_down: whileDown,
    notices_received: noticesReceived,
    notices_caught_up: fillSources.catch_up,
    notices_uncertain: fillSources.uncertain,
    notice_gaps: gaps,
    notice_duplicates: duplicates,
    slow_clients_dropped: slowClientsDropped,
    recovery_s: Math.round(Math.max(...recovery) * 100) / 100,
    recovery_drop_s: Math.round((recovery[0] ?? Number.NaN) * 100) / 100,
    recovery_restart_s: Math.round((recovery[1] ?? Number.NaN) * 100) / 100,
  };
  console.log(
    `sandbox sent ${framesSent} frames in ${elapsedS.toFixed(1)} s; clients received ${received} trades`,
  );
  console.log(`hub CPU ${Math.round(hubCpuMs)} ms over ${hubFramesIn} broker frames`);
  console.log(
    `fills: ${noticesSent} sent (${whileDown} while no session was up), ${noticesReceived} received: ${fillSources.notice} from notices, ${fillSources.catch_up} caught up from the day orders (${fillSources.uncertain} uncertain)`,
  );
  await sandbox.close();
  await sql.end();
  await server.close();
  await rm(scratch, { recursive: true, force: true });
  console.log(`hub program: ${hubMode}`);
  console.log(JSON.stringify(result));
}

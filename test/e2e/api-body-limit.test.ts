/**
 * Large chunked bodies against `npm start` in a child process, whose memory
 * (RSS, and its high-water mark) is read from /proc. Before the fix the body
 * limit read a chunked body whole before measuring it, ahead of
 * authentication: 300 MB without an Authorization header took the server
 * from about 100 MB to 950 MB.
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../dev/embedded-postgres";
import { killProcessGroup, spawnDevScript } from "../support/cli";
import { childDatabaseEnv, createTestDatabase, type TestDatabase } from "../support/database";

const CHUNKS = 300;
const CHUNK = Buffer.alloc(1024 * 1024, "a");
/** What the server may grow by while refusing 300 MB: far below the body, above GC noise. */
const GROWTH_LIMIT_BYTES = 64 * 1024 * 1024;
/** A refusal comes at once; generous for a shared machine, and far below streaming 300 MB. */
const REFUSAL_MS = 5_000;

let db: TestDatabase;
let dataDir: string;
let server: ChildProcess;
let base: URL;
const key = `limit.${randomBytes(18).toString("base64url")}`;

beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), "securities-support-body-"));
  const port = await freePort();
  base = new URL(`http://127.0.0.1:${port}`);
  const started = spawnDevScript("start.ts", [], {
    ...process.env,
    ...childDatabaseEnv(db.url),
    DATA_DIR: dataDir,
    PORT: String(port),
    LOCAL_API_KEY: key,
    LOG_LEVEL: "warn",
    REFRESH_INTERVAL_SECONDS: "0",
  });
  server = started;
  let output = "";
  started.stdout.on("data", (chunk) => {
    output += String(chunk);
  });
  started.stderr.on("data", (chunk) => {
    output += String(chunk);
  });
  const deadline = Date.now() + 60_000;
  while (!output.includes("securities-support is running")) {
    if (Date.now() > deadline || started.exitCode !== null) {
      throw new Error(`npm start did not come up:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
});

afterAll(async () => {
  if (server) killProcessGroup(server, "SIGKILL");
  await db?.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** The server's resident memory now and its peak so far, in bytes (Linux /proc). */
function memory(): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${server.pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1]);
  return { rss: kib("VmRSS") * 1024, peak: kib("VmHWM") * 1024 };
}

interface Streamed {
  status: number;
  body: string;
  ms: number;
  /** Bytes the client managed to hand to its socket before the answer. */
  written: number;
}

/** POSTs CHUNKS × 1 MB with Transfer-Encoding: chunked, stopping once the server answers. */
function streamChunked(path: string, authorization?: string): Promise<Streamed> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let written = 0;
    let answered = false;
    const req = request(new URL(path, base), {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(authorization ? { authorization } : {}),
      },
    });
    req.on("response", (response) => {
      answered = true;
      const ms = performance.now() - started;
      let body = "";
      response.on("data", (chunk) => {
        body += String(chunk);
      });
      response.on("end", () => {
        req.destroy();
        resolve({ status: response.statusCode ?? 0, body, ms, written });
      });
    });
    // The server closes the connection after refusing; writes then fail, which is expected.
    req.on("error", (error) => {
      if (!answered) reject(error);
    });
    const pump = () => {
      while (!answered && written < CHUNKS * CHUNK.length) {
        written += CHUNK.length;
        if (!req.write(CHUNK)) return void req.once("drain", pump);
      }
      if (!answered) req.end();
    };
    pump();
  });
}

describe("a chunked body of 300 MB", () => {
  it("without an Authorization header is refused 401 at once, unread", async () => {
    const before = memory();
    const answer = await streamChunked("/accounts");
    const after = memory();
    console.info(
      `no key, ${answer.status}: ${Math.round(answer.ms)} ms; RSS ${mb(before.rss)} -> ${mb(after.rss)} MB, peak ${mb(after.peak)} MB; client wrote ${mb(answer.written)} MB`,
    );
    expect(answer.status).toBe(401);
    expect(answer.ms).toBeLessThan(REFUSAL_MS);
    expect(answer.written).toBeLessThan(CHUNKS * CHUNK.length);
    expect(after.peak - Math.max(before.peak, before.rss)).toBeLessThan(GROWTH_LIMIT_BYTES);
  });

  it("with a valid key is refused 413 once the limit is passed, holding at most the limit", async () => {
    const before = memory();
    const answer = await streamChunked("/accounts", `Bearer ${key}`);
    const after = memory();
    console.info(
      `valid key, ${answer.status}: ${Math.round(answer.ms)} ms; RSS ${mb(before.rss)} -> ${mb(after.rss)} MB, peak ${mb(after.peak)} MB; client wrote ${mb(answer.written)} MB`,
    );
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toMatchObject({ status: 413 });
    expect(answer.ms).toBeLessThan(REFUSAL_MS);
    expect(answer.written).toBeLessThan(CHUNKS * CHUNK.length);
    expect(after.peak - Math.max(before.peak, before.rss)).toBeLessThan(GROWTH_LIMIT_BYTES);
  });
});

it("a small chunked body with a valid key still reaches the handler", async () => {
  const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(new URL("/accounts", base), {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    });
    req.on("response", (response) => {
      let body = "";
      response.on("data", (chunk) => {
        body += String(chunk);
      });
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.write('{"name": ');
    req.end('"x",');
  });
  expect(answer.status).toBe(400);
  expect(JSON.parse(answer.body)).toMatchObject({ type: expect.stringMatching(/malformed-json$/) });
});

function mb(bytes: number): number {
  return Math.round(bytes / 1024 / 1024);
}

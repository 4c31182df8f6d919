import { type ChildProcess, execFile, spawn } from "node:child_process";
import { cp, mkdtemp, readFile, rm, symlink } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database";

// The hub's image as infra/hub.Dockerfile builds it, without Docker (no daemon
// here, and no base image could be pulled): its build stage's COPY sources laid
// out alone in a directory, its esbuild RUN line run there as `sh -c` runs it,
// and the final stage's CMD run on the bundle against a real database. A hub
// entry that imports what the image does not copy, or a bundle that cannot load,
// fails here instead of at deploy.

const ROOT = join(import.meta.dirname, "..", "..");
const run = promisify(execFile);

interface Stage {
  copies: string[];
  runs: string[];
  cmd: string[] | undefined;
  copiedFromBuild: { from: string; to: string }[];
}

/** The Dockerfile's stages: COPY sources, RUN lines (continuations joined) and CMD. */
function stages(dockerfile: string): Stage[] {
  const lines = dockerfile
    .replace(/\\\n\s*/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  const found: Stage[] = [];
  for (const line of lines) {
    const [instruction = "", ...rest] = line.split(/\s+/);
    const args = rest.join(" ");
    if (instruction === "FROM") {
      found.push({ copies: [], runs: [], cmd: undefined, copiedFromBuild: [] });
      continue;
    }
    const stage = found.at(-1);
    if (!stage) continue;
    if (instruction === "RUN") stage.runs.push(args);
    if (instruction === "CMD") stage.cmd = JSON.parse(args) as string[];
    if (instruction === "COPY") {
      const parts = args.split(/\s+/);
      if (parts[0]?.startsWith("--from=")) {
        stage.copiedFromBuild.push({ from: parts[1] as string, to: parts[2] as string });
      } else {
        stage.copies.push(...parts.slice(0, -1));
      }
    }
  }
  return found;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === "object" && address ? address.port : 0;
}

let db: TestDatabase;
let work: string;
let hub: ChildProcess | undefined;

beforeAll(async () => {
  db = await createTestDatabase();
  work = await mkdtemp(join(tmpdir(), "hub-image-"));
});

afterAll(async () => {
  hub?.kill("SIGKILL");
  await rm(work, { recursive: true, force: true });
  await db?.drop();
});

describe("infra/hub.Dockerfile, built and run as the image would be", () => {
  test("its build stage bundles functions/hub.ts from only what it copies, and its CMD serves /health and stops on SIGTERM", async () => {
    const [build, final] = stages(await readFile(join(ROOT, "infra", "hub.Dockerfile"), "utf8"));
    expect(build && final).toBeTruthy();
    const esbuild = build?.runs.find((line) => line.startsWith("npx esbuild "));
    expect(esbuild, "the build stage's esbuild RUN line").toBeDefined();
    // The build stage's WORKDIR is /src; only its COPY sources (and what `npm ci` installs) are there.
    const src = join(work, "src");
    for (const source of build?.copies ?? []) {
      await cp(join(ROOT, source), join(src, source), { recursive: true });
    }
    expect(build?.copies).toEqual(expect.arrayContaining(["core", "functions"]));
    await symlink(join(ROOT, "node_modules"), join(src, "node_modules"), "dir");
    await run("sh", ["-c", esbuild as string], { cwd: src });

    // The final stage copies the bundle from the build stage and runs it.
    const bundle = final?.copiedFromBuild.find(({ from }) => from.startsWith("/src/dist/"));
    if (!bundle) throw new Error("the final stage copies no bundle from /src/dist/");
    const built = join(src, bundle.from.slice("/src/".length));
    const [program, entry] = final?.cmd ?? [];
    expect(program).toBe("node");
    expect(entry).toBe(bundle.to.replace(/^\.\//, ""));

    const port = await freePort();
    hub = spawn(process.execPath, [built], {
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: db.serviceUrl,
        ...(db.pooled ? { DB_POOLER: "transaction" } : {}),
        // Read lazily (first client key, first decryption): never called in this test.
        API_KEYS_SECRET_ID: "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:hub-keys",
        KMS_KEY_ID: "arn:aws:kms:ap-northeast-2:123456789012:key/hub-image-test",
        AWS_REGION: "ap-northeast-2",
        PORT: String(port),
        STAGE: "test",
        LOG_LEVEL: "info",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    hub.stdout?.on("data", (chunk) => {
      output += String(chunk);
    });
    hub.stderr?.on("data", (chunk) => {
      output += String(chunk);
    });
    const exited = new Promise<number | null>((resolve) => hub?.once("exit", resolve));
    for (let waited = 0; !output.includes('"msg":"hub listening"'); waited += 100) {
      if (waited > 20_000 || hub.exitCode !== null)
        throw new Error(`the hub did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true, sessionsUp: 0, clients: 0 });

    hub.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(output).toContain("SIGTERM: releasing the broker sessions");
  });
});

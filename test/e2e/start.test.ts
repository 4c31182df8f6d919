import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { freePort } from "../../dev/embedded-postgres";

const root = join(import.meta.dirname, "..", "..");
let dataDir = "";

afterAll(async () => {
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

it("npm start serves the API on embedded defaults and stops cleanly on Ctrl-C", async () => {
  dataDir = await mkdtemp(join(tmpdir(), "securities-support-start-"));
  await chmod(dataDir, 0o755);
  const port = await freePort();
  const key = `script.${randomBytes(18).toString("base64url")}`;
  const env: Record<string, string | undefined> = {
    ...process.env,
    DATA_DIR: dataDir,
    PORT: String(port),
    LOCAL_API_KEY: key,
    LOG_LEVEL: "warn",
  };
  delete env.DATABASE_URL;
  const child = spawn(join(root, "node_modules", ".bin", "tsx"), [join(root, "dev", "start.ts")], {
    cwd: root,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk) => {
    output += String(chunk);
  });
  child.stderr.on("data", (chunk) => {
    output += String(chunk);
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  try {
    const deadline = Date.now() + 90_000;
    while (!output.includes("securities-support is running")) {
      if (Date.now() > deadline || child.exitCode !== null) {
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
  } finally {
    child.kill("SIGINT");
  }
  expect(await exited).toBe(0);
  expect(output).toContain("SIGINT: stopping");
  expect(output).not.toContain(key.split(".")[1]);
  // Postgres removes its pid file only when it shut down cleanly.
  expect(existsSync(join(dataDir, "pg", "postmaster.pid"))).toBe(false);
});

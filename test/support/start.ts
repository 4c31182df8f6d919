import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../dev/embedded-postgres";
import { killProcessGroup, spawnDevScript } from "./cli";

export interface RunningStart {
  dataDir: string;
  /** http://127.0.0.1:<port> */
  url: string;
  /** The admin key: LOCAL_API_KEY's, or the one npm start generated and printed. */
  key: string;
  child: ChildProcess;
  /** Everything printed so far, stdout and stderr interleaved. */
  output(): string;
  /** Ctrl-C, then, whatever happened, the whole process group killed and DATA_DIR removed. */
  stop(): Promise<number | null>;
}

const START_MS = 90_000;
const STOP_MS = 30_000;

/**
 * `npm start` in a DATA_DIR of its own, in its own process group (its
 * embedded Postgres included), up and serving when this returns. With
 * `generateKey` it makes its own admin key (no LOCAL_API_KEY) and the key it
 * printed is returned.
 */
export async function startService(
  env: Record<string, string> = {},
  options: { generateKey?: boolean } = {},
): Promise<RunningStart> {
  const dataDir = await mkdtemp(join(tmpdir(), "securities-support-start-"));
  // The embedded Postgres runs as the `postgres` user when the tests run as root.
  await chmod(dataDir, 0o755);
  const port = await freePort();
  let key = `script.${randomBytes(18).toString("base64url")}`;
  const childEnv: Record<string, string | undefined> = {
    ...process.env,
    DATA_DIR: dataDir,
    PORT: String(port),
    LOCAL_API_KEY: key,
    LOG_LEVEL: "warn",
    REFRESH_INTERVAL_SECONDS: "0",
    ...env,
  };
  delete childEnv.DATABASE_URL;
  if (options.generateKey) delete childEnv.LOCAL_API_KEY;
  // In a process group of its own (spawnDevScript): its embedded Postgres is killed with it.
  const child = spawnDevScript("start.ts", [], childEnv);
  let output = "";
  child.stdout.on("data", (chunk) => {
    output += String(chunk);
  });
  child.stderr.on("data", (chunk) => {
    output += String(chunk);
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGINT");
    const code = await Promise.race([
      exited,
      new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), STOP_MS)),
    ]);
    killProcessGroup(child, "SIGKILL");
    await rm(dataDir, { recursive: true, force: true });
    return code === "timeout" ? null : code;
  };
  const deadline = Date.now() + START_MS;
  while (!output.includes("securities-support is running")) {
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error(`npm start did not come up:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (options.generateKey) {
    const printed = /Admin API key\s+(\S+)/.exec(output)?.[1];
    if (!printed) {
      await stop();
      throw new Error(`npm start printed no admin key:\n${output}`);
    }
    key = printed;
  }
  return { dataDir, url: `http://127.0.0.1:${port}`, key, child, output: () => output, stop };
}

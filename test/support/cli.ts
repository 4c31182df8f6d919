import { type ChildProcessByStdio, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { onTestFinished } from "vitest";
import { childDatabaseEnv } from "./database";

export const repoRoot = join(import.meta.dirname, "..", "..");

/**
 * How long runCli waits by default: below the run's 60 s test timeout, so a
 * command that hangs is killed (with everything it started) while its test
 * still runs, and the test fails on its output rather than on the timeout.
 */
export const CLI_TIMEOUT_MS = 50_000;

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stdout and stderr, interleaved as they arrived. */
  output: string;
}

/**
 * Runs one of the dev/ commands as `npm run` would (tsx, cwd at the repo)
 * in a child process and waits for it to exit. DATABASE_URL is removed from
 * the inherited environment unless `env` gives one, so a command never
 * touches the test run's server by accident; one that does gets the runtime
 * role's URL too (childDatabaseEnv says why). A child still running after
 * `timeoutMs` is killed with its whole process group, and the run reports its signal.
 */
export function runCli(
  script: string,
  args: string[] = [],
  env: Record<string, string | undefined> = {},
  options: { timeoutMs?: number; onOutput?: (output: string) => void } = {},
): Promise<CliRun> {
  const childEnv: Record<string, string | undefined> = { ...process.env, DATABASE_URL: undefined };
  for (const [name, value] of Object.entries(env)) childEnv[name] = value;
  if (
    env.DATABASE_URL &&
    env.RUNTIME_DATABASE_URL === undefined &&
    URL.canParse(env.DATABASE_URL)
  ) {
    childEnv.RUNTIME_DATABASE_URL = childDatabaseEnv(env.DATABASE_URL).RUNTIME_DATABASE_URL;
  }
  for (const name of Object.keys(childEnv)) if (childEnv[name] === undefined) delete childEnv[name];
  const child = spawnDevScript(script, args, childEnv);
  let output = "";
  const collect = (chunk: Buffer) => {
    output += String(chunk);
    options.onOutput?.(output);
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  const timer = setTimeout(
    () => killProcessGroup(child, "SIGKILL"),
    options.timeoutMs ?? CLI_TIMEOUT_MS,
  );
  return new Promise((resolve) => {
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    });
  });
}

/**
 * One node process running a dev/ script (or a file named by its absolute path) under tsx's loader. The `tsx`
 * binary would put a wrapper process in between, and killing the wrapper
 * (a test timing out) would leave the command itself running.
 */
export function spawnDevScript(
  script: string,
  args: string[],
  env: Record<string, string | undefined>,
): ChildProcessByStdio<null, Readable, Readable> {
  // npm start's hub listens on HUB_PORT (default 3001): a fixed port that two
  // tests starting it at once would fight over. Off unless a test asks for it.
  return spawnScript(resolve(repoRoot, "dev", script), args, { HUB_PORT: "0", ...env });
}

/**
 * Runs a TypeScript file under tsx in a process group of its own, so that
 * killProcessGroup reaches whatever it starts (an embedded Postgres, refresh
 * workers, pg_dump). Inside a test, the group is killed when the test ends,
 * passed, failed or timed out: a failed assertion never leaves a server running.
 */
export function spawnScript(
  path: string,
  args: string[],
  env: Record<string, string | undefined>,
): ChildProcessByStdio<null, Readable, Readable> {
  const child = spawn(process.execPath, ["--import", "tsx", path, ...args], {
    cwd: repoRoot,
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  try {
    onTestFinished(() => killProcessGroup(child, "SIGKILL"));
  } catch {
    // Started outside a test (a beforeAll): its afterAll calls killProcessGroup.
  }
  return child;
}

/**
 * Sends `signal` to every process of the child's group (the child, and what
 * it started that did not leave the group). A group already gone is no error.
 */
export function killProcessGroup(
  child: { pid?: number | undefined },
  signal: NodeJS.Signals,
): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}

/** Whether a process still runs: a zombie (dead, its parent not yet told) counts as gone. */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // /proc/<pid>/stat: "pid (name) S ...", the state after the closing parenthesis.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return process.platform !== "linux";
  }
}

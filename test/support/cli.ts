import { type ChildProcessByStdio, spawn } from "node:child_process";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { childDatabaseEnv } from "./database";

export const repoRoot = join(import.meta.dirname, "..", "..");

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
 * `timeoutMs` is killed, and the run reports its signal.
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
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
  return new Promise((resolve) => {
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    });
  });
}

/**
 * One node process running a dev/ script under tsx's loader. The `tsx`
 * binary would put a wrapper process in between, and killing the wrapper
 * (a test timing out) would leave the command itself running.
 */
export function spawnDevScript(
  script: string,
  args: string[],
  env: Record<string, string | undefined>,
): ChildProcessByStdio<null, Readable, Readable> {
  return spawn(process.execPath, ["--import", "tsx", join(repoRoot, "dev", script), ...args], {
    cwd: repoRoot,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
}

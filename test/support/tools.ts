import { spawnSync } from "node:child_process";
import { delimiter, join } from "node:path";

/**
 * The path of a command-line tool some tests need (psql, jq, pg_dump), or
 * undefined when it is not installed, so those tests can skip on a laptop
 * without it. Under CI=true a missing tool throws instead: CI must run every
 * test (.ci/run installs the tools), never skip one silently.
 */
export function toolOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter).filter(Boolean)) {
    const candidate = join(dir, name);
    if (spawnSync(candidate, ["--version"], { stdio: "ignore" }).status === 0) return candidate;
  }
  requiredUnderCi(`${name} is not installed`);
  return undefined;
}

/** Throws under CI=true with `problem`; elsewhere the caller skips or falls back. */
export function requiredUnderCi(problem: string): void {
  if (process.env.CI === "true") {
    throw new Error(
      `${problem}; under CI=true this fails instead of skipping (.ci/run installs what the tests need).`,
    );
  }
}

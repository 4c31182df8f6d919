import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isRunning, repoRoot, runCli, spawnScript } from "../support/cli";

const TREE = join(repoRoot, "test", "fixtures", "processes", "tree.ts");

/** The pids the fixture prints once it and its own child run. */
function pidsIn(output: string): [number, number] | undefined {
  const match = /pids (\d+) (\d+)/.exec(output);
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

async function goneWithin(pids: number[], ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (pids.some(isRunning)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

describe("a command a test launches", () => {
  it("is killed with the processes it started once it outlives its timeout", async () => {
    let pids: [number, number] | undefined;
    const started = Date.now();
    const run = await runCli(
      TREE,
      [],
      {},
      {
        timeoutMs: 3_000,
        onOutput: (output) => {
          pids ??= pidsIn(output);
        },
      },
    );
    expect(run.signal).toBe("SIGKILL");
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(pids, run.output).toBeDefined();
    expect(await goneWithin(pids as number[], 2_000)).toBe(true);
  });

  let leftRunning: number[] = [];
  it("is left running by a test that ends without stopping it (as a failed assertion does)", async () => {
    const child = spawnScript(TREE, [], { ...process.env });
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += String(chunk);
    });
    const deadline = Date.now() + 20_000;
    while (!pidsIn(output) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    leftRunning = pidsIn(output) ?? [];
    expect(leftRunning).toHaveLength(2);
    expect(leftRunning.every(isRunning)).toBe(true);
  });

  it("is gone, with the processes it started, once that test has ended", async () => {
    expect(leftRunning).toHaveLength(2);
    expect(await goneWithin(leftRunning, 2_000)).toBe(true);
  });
});

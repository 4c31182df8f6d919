/**
 * The broker sandbox in its own process for the benchmarks, so that its CPU
 * is not the measured process's, and the CPU time of a process tree.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort } from "../dev/embedded-postgres";

export async function startSandboxProcess(
  latencyMs: number,
): Promise<{ url: string; env: Record<string, string>; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    join(import.meta.dirname, "..", "node_modules", ".bin", "tsx"),
    [join(import.meta.dirname, "..", "dev", "sandbox-cli.ts")],
    {
      env: {
        ...process.env,
        SANDBOX_PORT: String(port),
        SANDBOX_LATENCY_MS: String(latencyMs),
        LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const env: Record<string, string> = {};
  await new Promise<void>((resolve, reject) => {
    let buffer = "";
    child.once("exit", () => reject(new Error("the sandbox exited before it was ready")));
    child.stdout?.on("data", (chunk) => {
      buffer += String(chunk);
      for (const line of buffer.split("\n")) {
        const match = /^([A-Z_]+_URL)=(\S+)$/.exec(line.trim());
        if (match) env[match[1] as string] = match[2] as string;
      }
      // The four HTTP base URLs; the websocket URLs (…_WS_URL) come too.
      const http = ["KIS_REAL_URL", "KIS_PAPER_URL", "KIWOOM_REAL_URL", "KIWOOM_PAPER_URL"];
      if (http.every((name) => name in env)) resolve();
    });
  });
  return { url: `http://127.0.0.1:${port}`, env, child };
}

/**
 * User + system CPU time in ms of a process and its children (the sandbox runs
 * as tsx's child process), from /proc; 0 where /proc is absent.
 */
export async function processCpuMs(pid: number | undefined): Promise<number> {
  if (!pid) return 0;
  const statOf = async (id: string) => {
    try {
      const stat = await readFile(`/proc/${id}/stat`, "utf8");
      return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    } catch {
      return undefined;
    }
  };
  let total = 0;
  for (const id of await readdir("/proc").catch(() => [] as string[])) {
    if (!/^\d+$/.test(id)) continue;
    const fields = await statOf(id);
    // fields[1] is the parent pid; [11] and [12] are user and system clock ticks.
    if (fields && (id === String(pid) || fields[1] === String(pid))) {
      total += ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
    }
  }
  return total;
}

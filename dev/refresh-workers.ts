/**
 * `npm run refresh -- --workers N`: N worker processes against one database,
 * each one worker of the fan-out (`--worker i/N`), as the deployed cron
 * function starts Lambda workers. The claims in the database keep them from
 * refreshing an account twice; the issuance slots keep every app key's pace.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import type { RefreshSummary } from "../core/tokens";

export interface WorkerResult {
  index: number;
  exitCode: number | null;
  /** The worker's summary, when it printed one. */
  summary?: RefreshSummary;
  /** What the worker wrote on stderr (its errors), for the report. */
  stderr: string;
}

const CLI = join(import.meta.dirname, "refresh-cli.ts");

/**
 * Runs `count` refresh workers as child processes on `databaseUrl` (already
 * migrated) and waits for all of them. The children inherit `env`.
 */
export async function runRefreshWorkers(options: {
  databaseUrl: string;
  count: number;
  env?: Record<string, string | undefined>;
  /**
   * Start refreshing only once every worker is set up (node and its
   * modules loaded, connected), so that a benchmark measures the refresh
   * and not N node start-ups on a busy machine.
   */
  startTogether?: boolean;
}): Promise<WorkerResult[]> {
  let readyCount = 0;
  const waiting: (() => void)[] = [];
  const ready = (go: () => void) => {
    waiting.push(go);
    readyCount++;
    if (readyCount === options.count) for (const start of waiting) start();
  };
  return Promise.all(
    Array.from(
      { length: options.count },
      (_, index) =>
        new Promise<WorkerResult>((resolve, reject) => {
          // node itself with tsx's loader: one process per worker, and a signal reaches it.
          const child = spawn(
            process.execPath,
            [
              "--import",
              "tsx",
              CLI,
              "--worker",
              `${index}/${options.count}`,
              "--json",
              ...(options.startTogether ? ["--start-together"] : []),
            ],
            {
              env: { ...(options.env ?? process.env), DATABASE_URL: options.databaseUrl },
              stdio: [options.startTogether ? "pipe" : "ignore", "pipe", "pipe"],
            },
          );
          let stdout = "";
          let stderr = "";
          let announced = false;
          child.stdout?.on("data", (chunk) => {
            stdout += String(chunk);
            if (options.startTogether && !announced && /^ready$/m.test(stdout)) {
              announced = true;
              ready(() => child.stdin?.end("go\n"));
            }
          });
          child.stderr?.on("data", (chunk) => {
            stderr += String(chunk);
          });
          child.on("error", reject);
          child.on("close", (exitCode) => {
            const last = stdout.trim().split("\n").at(-1) ?? "";
            let summary: RefreshSummary | undefined;
            try {
              summary = last.startsWith("{") ? (JSON.parse(last) as RefreshSummary) : undefined;
            } catch {
              summary = undefined;
            }
            resolve({ index, exitCode, stderr, ...(summary ? { summary } : {}) });
          });
        }),
    ),
  );
}

const COUNTED = [
  "due",
  "claimed",
  "issued",
  "current",
  "reused",
  "deferred",
  "failed",
  "notStarted",
  "claimedElsewhere",
  "claimedByDeadRuns",
] as const;

/**
 * The workers' counts added up (due is each worker's own view, so it is the
 * largest). Each account counts once: a worker counts only its own stripe's
 * held accounts, and a deferred account rests until its pace allows.
 */
export function totalOf(results: WorkerResult[]): Record<(typeof COUNTED)[number], number> {
  const total = Object.fromEntries(COUNTED.map((key) => [key, 0])) as Record<
    (typeof COUNTED)[number],
    number
  >;
  for (const { summary } of results) {
    if (!summary) continue;
    for (const key of COUNTED) {
      total[key] = key === "due" ? Math.max(total.due, summary.due) : total[key] + summary[key];
    }
  }
  return total;
}

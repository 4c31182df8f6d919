import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The API and the hub (functions/hub.ts) connect through a
 * transaction pooler: RDS Proxy in AWS, PgBouncer in CI. Consecutive
 * transactions of one client may run on different server sessions, so no
 * code these functions bundle may keep state in a session. This reads every
 * module they import, transitively, and refuses the constructs that do.
 * test/integration/db-pooler.test.ts checks the same at run time.
 */
const ROOT = join(import.meta.dirname, "..", "..");
const POOLED_ENTRIES = ["functions/api.ts", "functions/hub.ts"];

/** Session-level constructs, each with why a transaction pooler cannot carry it. */
const SESSION_CONSTRUCTS: { name: string; pattern: RegExp }[] = [
  { name: "session advisory lock", pattern: /pg_(try_)?advisory_(un)?lock(_shared|_all)?\s*\(/i },
  { name: "LISTEN / UNLISTEN", pattern: /\b(UN)?LISTEN\s+[a-z_"*]/i },
  { name: "postgres.js listen()", pattern: /\.listen\s*\(\s*["'`]/ },
  {
    name: "temporary table",
    pattern: /\bCREATE\s+(GLOBAL\s+|LOCAL\s+)?TEMP(ORARY)?\s+(TABLE|SEQUENCE|VIEW)/i,
  },
  // A statement of its own: at the start of a query string or after a semicolon (not UPDATE … SET).
  {
    name: "session SET",
    pattern: /[`'";]\s*SET\s+(SESSION\s+)?(?!LOCAL\b)[a-z_.]+\s*(=|\bTO\b)/i,
  },
  { name: "set_config for the session", pattern: /set_config\s*\([^)]*,\s*false\s*\)/i },
  { name: "named PREPARE", pattern: /\bPREPARE\s+[a-z_]+\s+(AS|\()/i },
  { name: "cursor WITH HOLD", pattern: /\bWITH\s+HOLD\b/i },
  { name: "reserved connection", pattern: /\.reserve\s*\(\s*\)/ },
  { name: "currval / lastval", pattern: /\b(currval|lastval)\s*\(/i },
];

/**
 * Modules bundled into a pooled function (their domain's index re-exports
 * them) but never run by it, each with the reason. A test below checks that
 * nothing on the pooled path calls what they export.
 */
const NOT_ON_THE_POOLED_PATH: Record<string, string> = {
  "core/tokens/refresh.ts":
    "the refresh job's run (its liveness lock is refresh-liveness.ts); refresh connects directly",
  "core/tokens/refresh-liveness.ts":
    "the refresh job: its run-liveness session advisory lock on a reserved connection; refresh connects directly",
  "core/tokens/refresh-claims.ts":
    "the refresh job's due list and claims; refresh connects directly",
  "core/tokens/refresh-summary.ts":
    "the refresh job's summary, its log line and the alarm's count; refresh connects directly",
  "core/tokens/fan-out.ts":
    "the scheduled refresh run that starts workers; refresh connects directly",
};

/**
 * A construct a module on the pooled path names without using it for the
 * API, by file and construct name, with the reason. Any other file that
 * shows the construct still fails.
 */
const NAMED_NOT_USED: Record<string, Record<string, string>> = {
  "core/db/availability.ts": {
    "reserved connection":
      "the outage breaker wraps sql.reserve() for the callers that reserve (migrate, refresh); it reserves nothing itself",
  },
};

/** Relative imports of a TypeScript file, resolved to files. */
function importsOf(file: string): string[] {
  const source = readFileSync(file, "utf8");
  const found: string[] = [];
  for (const match of source.matchAll(/(?:import|export)\s[^;]*?from\s+["'](\.[^"']+)["']/g)) {
    const target = resolve(dirname(file), match[1] as string);
    const candidates = [target, `${target}.ts`, join(target, "index.ts")];
    const hit = candidates.find((candidate) => existsSync(candidate) && candidate.endsWith(".ts"));
    if (hit) found.push(hit);
  }
  for (const match of source.matchAll(/import\(\s*["'](\.[^"']+)["']\s*\)/g)) {
    const target = resolve(dirname(file), match[1] as string);
    const hit = [`${target}.ts`, join(target, "index.ts"), target].find((c) => existsSync(c));
    if (hit) found.push(hit);
  }
  return found;
}

/** Every file the entries import, transitively (what esbuild would bundle of ours). */
function closure(entries: string[]): string[] {
  const seen = new Set<string>();
  const queue = entries.map((entry) => join(ROOT, entry)).filter((file) => existsSync(file));
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    queue.push(...importsOf(file));
  }
  return [...seen].map((file) => relative(ROOT, file)).sort();
}

/** Source without comments, so a comment that explains a construct is not one. */
function code(file: string): string {
  return readFileSync(join(ROOT, file), "utf8")
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/(^|[^:])\/\/.*$/gm, "$1");
}

describe("the pooled path (functions/api.ts, functions/hub.ts)", () => {
  const files = closure(POOLED_ENTRIES);

  it("is found: the API function and the core modules it composes", () => {
    expect(files).toContain("functions/api.ts");
    expect(files).toContain("core/db/index.ts");
    expect(files).toContain("core/gateway/index.ts");
    expect(files).toContain("core/tokens/index.ts");
  });

  it("holds no session-level construct a transaction pooler cannot carry", () => {
    const found: string[] = [];
    for (const file of files) {
      if (file in NOT_ON_THE_POOLED_PATH) continue;
      const text = code(file);
      for (const { name, pattern } of SESSION_CONSTRUCTS) {
        if (NAMED_NOT_USED[file]?.[name]) continue;
        const match = pattern.exec(text);
        if (match) found.push(`${file}: ${name} (${match[0].trim()})`);
      }
    }
    expect(found).toEqual([]);
  });

  it("calls nothing from the modules it bundles but does not run", () => {
    const exempt = Object.keys(NOT_ON_THE_POOLED_PATH);
    const exported = exempt.flatMap((file) =>
      [...code(file).matchAll(/export\s+(?:async\s+)?function\s+([A-Za-z0-9_]+)/g)].map(
        (match) => match[1] as string,
      ),
    );
    expect(exported.length).toBeGreaterThan(0);
    const callers = files
      .filter((file) => !exempt.includes(file) && !file.endsWith("/index.ts"))
      .flatMap((file) =>
        exported
          .filter((name) => new RegExp(`\\b${name}\\b`).test(code(file)))
          .map((name) => `${file} uses ${name}`),
      );
    expect(callers).toEqual([]);
  });

  it("recognises each construct it looks for", () => {
    const samples = [
      "SELECT pg_advisory_lock(1)",
      "LISTEN quotes",
      'sql.listen("quotes", onQuote)',
      "CREATE TEMP TABLE scratch (id int)",
      "await sql`SET statement_timeout = 0`",
      'sql.unsafe("SELECT 1; SET search_path TO audit")',
      "SELECT set_config('work_mem', '8MB', false)",
      "PREPARE q AS SELECT 1",
      "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
      "const conn = await sql.reserve()",
      "SELECT currval('accounts_id_seq')",
    ];
    const missed = samples.filter(
      (sample) => !SESSION_CONSTRUCTS.some(({ pattern }) => pattern.test(sample)),
    );
    expect(missed).toEqual([]);
  });

  it("lets transaction-scoped forms through: SET LOCAL, set_config(…, true), xact locks, UPDATE … SET", () => {
    const allowed = [
      "sql.unsafe(`SET LOCAL lock_timeout = '1s'`)",
      "SELECT set_config('synchronous_commit', 'off', true)",
      "SELECT pg_advisory_xact_lock(1)",
      "sql`UPDATE accounts SET name = $1 WHERE id = $2`",
      "sql`\n  UPDATE accounts\n  SET name = $1`",
      "INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO UPDATE SET a = EXCLUDED.a",
    ];
    const flagged = allowed.filter((sample) =>
      SESSION_CONSTRUCTS.some(({ pattern }) => pattern.test(sample)),
    );
    expect(flagged).toEqual([]);
  });
});

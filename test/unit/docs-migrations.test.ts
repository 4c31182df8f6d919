import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");

/** Every database function, with the last up file (by version) that defines it. */
async function functionsInMigrations(): Promise<
  Map<string, { current: string; first: string; language: string }>
> {
  const dir = join(ROOT, "migrations");
  const files = (await readdir(dir))
    .filter((f) => /^\d{4}_.*\.sql$/.test(f) && !f.endsWith(".down.sql"))
    .sort();
  const found = new Map<string, { current: string; first: string; language: string }>();
  for (const file of files) {
    const sql = await readFile(join(dir, file), "utf8");
    const definitions = sql.matchAll(
      /CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+(\w+)\s*\([\s\S]*?LANGUAGE\s+(\w+)/gi,
    );
    for (const [, name, language] of definitions) {
      const key = (name as string).toLowerCase();
      const first = found.get(key)?.first ?? file;
      found.set(key, { current: file, first, language: (language as string).toLowerCase() });
    }
  }
  return found;
}

/** The rows of docs/operations.md's table of database functions. */
async function documentedFunctions(): Promise<Map<string, { current: string; language: string }>> {
  const docs = await readFile(join(ROOT, "docs", "operations.md"), "utf8");
  const rows = new Map<string, { current: string; language: string }>();
  for (const [, name, language, current] of docs.matchAll(
    /^\| `(\w+)`\s*\| (\w+)\s*\| `migrations\/([^`]+)`\s*\|/gm,
  )) {
    rows.set(name as string, { current: current as string, language: language as string });
  }
  return rows;
}

describe("docs/operations.md's table of database functions", () => {
  it("names, for every function the migrations define, the file with its current definition", async () => {
    const inFiles = await functionsInMigrations();
    const documented = await documentedFunctions();
    expect(inFiles.size).toBeGreaterThan(0);
    const expected = Object.fromEntries(
      [...inFiles].map(([name, f]) => [name, { current: f.current, language: f.language }]),
    );
    expect(Object.fromEntries(documented)).toEqual(expected);
  });
});

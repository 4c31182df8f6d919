import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type * as Db from "../../core/db";
import bundlePlugins from "../../infra/esbuild-plugins.mjs";
import { NODE_TARGET } from "../../infra/runtime";
import { createTestDatabase, type TestDatabase } from "../support/database";

// The Lambda bundles swap postgres.js's subscribe and large-object modules,
// and its listen and notify, for stubs (infra/esbuild-plugins.mjs). This bundles core/db the way SST does and
// checks the client still talks to a real Postgres, and that the stubs are in.
describe("the Lambda bundle's postgres.js", () => {
  let db: TestDatabase;
  let dir: string;
  let bundled: typeof Db;

  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false });
    dir = await mkdtemp(join(tmpdir(), "bundle-plugins-"));
    const outfile = join(dir, "db.mjs");
    await build({
      entryPoints: ["core/db/index.ts"],
      outfile,
      bundle: true,
      format: "esm",
      platform: "node",
      target: NODE_TARGET,
      mainFields: ["module", "main"],
      minify: true,
      logLevel: "silent",
      plugins: bundlePlugins,
    });
    bundled = (await import(pathToFileURL(outfile).href)) as typeof Db;
  });

  afterAll(async () => {
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("queries a real database in UTC", async () => {
    const sql = bundled.createSql(db.url, { max: 1 });
    try {
      const [row] = await sql`SELECT 1 + 1 AS two, current_setting('TimeZone') AS zone`;
      expect(row).toEqual({ two: 2, zone: "UTC" });
    } finally {
      await sql.end();
    }
  });

  it("fails loudly if the stubbed subscribe is ever called", async () => {
    const sql = bundled.createSql(db.url, { max: 1 });
    try {
      expect(() => sql.subscribe("*", () => {})).toThrow(/not bundled into the Lambda functions/);
    } finally {
      await sql.end();
    }
  });

  it("fails loudly if the stubbed listen or notify is ever called, and still ends and reserves", async () => {
    const sql = bundled.createSql(db.url, { max: 2 });
    try {
      await expect(sql.listen("channel", () => {})).rejects.toThrow(/sql.listen is not bundled/);
      await expect(sql.notify("channel", "x")).rejects.toThrow(/sql.notify is not bundled/);
      // reserve() follows the swapped code in the same module: it must be whole.
      const reserved = await sql.reserve();
      const [row] = await reserved`SELECT 2 AS two`;
      reserved.release();
      expect(row).toEqual({ two: 2 });
    } finally {
      await sql.end();
    }
  });
});

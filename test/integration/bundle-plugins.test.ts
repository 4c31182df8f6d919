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

// The Lambda bundles swap postgres.js's subscribe and large-object modules for
// stubs (infra/esbuild-plugins.mjs). This bundles core/db the way SST does and
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
});

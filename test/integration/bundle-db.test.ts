import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type * as Db from "../../core/db";
import { lambdaBuildOptions } from "../../infra/bundle";
import { createTestDatabase, type TestDatabase } from "../support/database";

// The Lambda bundles carry postgres.js as it is published (no module swapped,
// no source trimmed: infra/bundle.ts). This bundles core/db the way SST does
// and checks the client in it is whole, against a real Postgres.
describe("the Lambda bundle's postgres.js", () => {
  let db: TestDatabase;
  let dir: string;
  let outfile: string;
  let bundled: typeof Db;

  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false });
    dir = await mkdtemp(join(tmpdir(), "bundle-db-"));
    outfile = join(dir, "db.mjs");
    await build(lambdaBuildOptions({ entry: "core/db/index.ts", outfile }));
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

  it("listens and notifies, and still reserves a connection", async () => {
    const sql = bundled.createSql(db.url, { max: 2 });
    try {
      let heard: (payload: string) => void = () => {};
      const payload = new Promise<string>((resolve) => {
        heard = resolve;
      });
      // listen() resolves once LISTEN is in place.
      await sql.listen("bundle_channel", (value) => heard(value));
      await sql.notify("bundle_channel", "hello");
      expect(await payload).toBe("hello");
      const reserved = await sql.reserve();
      const [row] = await reserved`SELECT 2 AS two`;
      reserved.release();
      expect(row).toEqual({ two: 2 });
    } finally {
      await sql.end();
    }
  });

  it("holds no stub of a library part", async () => {
    const code = await readFile(outfile, "utf8");
    expect(code).not.toMatch(/not bundled into the Lambda functions/);
    expect(code).toContain("largeObject");
  });
});

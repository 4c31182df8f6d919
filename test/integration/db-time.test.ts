import { afterAll, beforeAll, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database";

// The process runs in Korea time, as a developer's laptop in Seoul would.
process.env.TZ = "Asia/Seoul";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ migrate: false });
});
afterAll(async () => {
  await db.drop();
});

it("reads a TIMESTAMP column as UTC whatever the process time zone is", async () => {
  const [row] = await db.sql<{ at: Date }[]>`SELECT TIMESTAMP '2026-01-02 03:04:05.678' AS at`;
  expect(row?.at.toISOString()).toBe("2026-01-02T03:04:05.678Z");
});

it("writes a Date into a TIMESTAMP column as its UTC wall time", async () => {
  await db.sql`CREATE TABLE t (at TIMESTAMP NOT NULL)`;
  const instant = new Date("2026-06-30T23:59:59.000Z");
  await db.sql`INSERT INTO t (at) VALUES (${instant})`;
  const [text] = await db.sql<{ at: string }[]>`SELECT at::text AS at FROM t`;
  expect(text?.at).toBe("2026-06-30 23:59:59");
  const [row] = await db.sql<{ at: Date }[]>`SELECT at FROM t`;
  expect(row?.at.getTime()).toBe(instant.getTime());
});

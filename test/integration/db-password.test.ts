import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createSql } from "../../core/db";
import { createTestDatabase, type TestDatabase } from "../support/database";

let db: TestDatabase;
const role = `rotating_${randomBytes(4).toString("hex")}`;

beforeAll(async () => {
  db = await createTestDatabase({ migrate: false });
  await db.sql.unsafe(`CREATE ROLE ${role} LOGIN PASSWORD 'first-password'`);
});
afterAll(async () => {
  await db.sql.unsafe(`DROP ROLE IF EXISTS ${role}`);
  await db.drop();
});

async function serverAsksForPasswords(url: URL): Promise<boolean> {
  const probe = createSql(
    { url: url.toString(), password: async () => "wrong-password" },
    { max: 1 },
  );
  try {
    await probe`SELECT 1`;
    return false;
  } catch {
    return true;
  } finally {
    await probe.end();
  }
}

it("asks for the password on each new connection, so a rotated password is used without a restart", async (ctx) => {
  let current = "first-password";
  const asked: string[] = [];
  const url = new URL(db.url);
  url.username = role;
  url.password = "";
  // A server with trust authentication (the CI service on 5432) never asks.
  if (!(await serverAsksForPasswords(url)))
    ctx.skip("this server trusts connections without a password");
  const sql = createSql(
    {
      url: url.toString(),
      password: async () => {
        asked.push(current);
        return current;
      },
    },
    { max: 1 },
  );
  try {
    const [first] = await sql`SELECT current_user AS who`;
    expect(first?.who).toBe(role);
    // RDS rotates the password; the pool's connection goes away (idle timeout, restart).
    await db.sql.unsafe(`ALTER ROLE ${role} PASSWORD 'second-password'`);
    current = "second-password";
    await db.sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = ${role}`;
    await new Promise((resolve) => setTimeout(resolve, 100));
    const [second] = await sql`SELECT current_user AS who`;
    expect(second?.who).toBe(role);
    expect(asked).toEqual(["first-password", "second-password"]);
  } finally {
    await sql.end();
  }
});

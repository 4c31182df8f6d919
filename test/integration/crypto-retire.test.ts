import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ENCRYPTED_COLUMNS } from "../../core/accounts";
import { retireUnusedDataKeys } from "../../core/crypto";
import { createTestCipher, type TestCipher } from "../support/crypto";
import { createTestDatabase, type TestDatabase } from "../support/database";

const HOUR = 3_600_000;
const MAX_AGE = 24 * HOUR;

let db: TestDatabase;
let crypto: TestCipher;

beforeAll(async () => {
  db = await createTestDatabase();
  crypto = createTestCipher(db.sql);
});

afterAll(async () => {
  await db?.drop();
});

beforeEach(async () => {
  await db.sql`DELETE FROM accounts`;
  await db.sql`DELETE FROM data_keys`;
});

/** A data key made by the cipher (a fresh one per call), and nothing encrypted under it. */
async function unusedKey(): Promise<number> {
  const fresh = createTestCipher(db.sql, { masterKey: crypto.masterKey });
  const [account] = await db.sql<{ id: number }[]>`
    INSERT INTO accounts (name, exchange) VALUES ('probe', 'upbit') RETURNING id`;
  const value = await fresh.cipher.encrypt("x", {
    table: "accounts",
    column: "api_key",
    rowId: account?.id as number,
  });
  await db.sql`DELETE FROM accounts WHERE id = ${account?.id as number}`;
  return Number(value.split(".")[1]);
}

/** Moves a key's created_at (the database's clock decides its age) back by `ms`. */
async function age(id: number, ms: number): Promise<void> {
  await db.sql`
    UPDATE data_keys SET created_at = clock_timestamp() - make_interval(secs => ${ms / 1000})
    WHERE id = ${id}`;
}

async function backdateRetirement(id: number, ms: number): Promise<void> {
  await db.sql`
    UPDATE data_keys SET retired_at = clock_timestamp() - make_interval(secs => ${ms / 1000})
    WHERE id = ${id}`;
}

async function exists(id: number): Promise<boolean> {
  const [row] = await db.sql`SELECT 1 FROM data_keys WHERE id = ${id}`;
  return row !== undefined;
}

const retire = () =>
  retireUnusedDataKeys({ sql: db.sql, columns: ENCRYPTED_COLUMNS, maxDataKeyAgeMs: MAX_AGE });

describe("retiring unused data keys", () => {
  it("keeps an unused key that is past the max age but within the margin", async () => {
    const id = await unusedKey();
    await age(id, MAX_AGE + HOUR);
    expect(await retire()).toMatchObject({ retired: [], deleted: [] });
    expect(await exists(id)).toBe(true);
  });

  it("retires a key past the max age plus the margin, and never deletes it in the same run", async () => {
    const id = await unusedKey();
    await age(id, MAX_AGE + 7 * HOUR);
    expect(await retire()).toMatchObject({ retired: [id], deleted: [] });
    expect(await exists(id)).toBe(true);
    // A second run right after is not "later" enough: still there.
    expect(await retire()).toMatchObject({ retired: [], deleted: [] });
    expect(await exists(id)).toBe(true);
  });

  it("deletes a retired key on a run at least the margin later, if still unused", async () => {
    const id = await unusedKey();
    await age(id, MAX_AGE + 7 * HOUR);
    await retire();
    await backdateRetirement(id, 6 * HOUR + 60_000);
    expect(await retire()).toMatchObject({ retired: [], deleted: [id] });
    expect(await exists(id)).toBe(false);
  });

  it("takes the mark back when a write in flight committed a value under the retired key", async () => {
    const fresh = createTestCipher(db.sql, { masterKey: crypto.masterKey });
    const [account] = await db.sql<{ id: number }[]>`
      INSERT INTO accounts (name, exchange) VALUES ('in flight', 'upbit') RETURNING id`;
    const binding = { table: "accounts", column: "api_key", rowId: account?.id as number };
    // The write took the data key, then stalled before its commit.
    const value = await fresh.cipher.encrypt("late write", binding);
    const id = Number(value.split(".")[1]);
    await age(id, MAX_AGE + 7 * HOUR);
    expect((await retire()).retired).toEqual([id]);
    await db.sql`UPDATE accounts SET api_key = ${value} WHERE id = ${binding.rowId}`;
    await backdateRetirement(id, 6 * HOUR + 60_000);
    expect(await retire()).toMatchObject({ deleted: [], restored: [id] });
    expect(await crypto.cipher.decrypt(value, binding)).toBe("late write");
  });

  it("never retires a key just made, even unused (its age is the database's created_at)", async () => {
    const id = await unusedKey();
    expect(await retire()).toMatchObject({ retired: [] });
    expect(await exists(id)).toBe(true);
  });
});

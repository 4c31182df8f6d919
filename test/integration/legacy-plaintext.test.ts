import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getAccount } from "../../core/accounts";
import {
  CiphertextAuthenticationError,
  createCipher,
  createLocalKeyProvider,
} from "../../core/crypto";
import { createLogger } from "../../core/log";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { securitiesAccount } from "../support/tokens";

let db: TestDatabase;
const lines: string[] = [];
const logger = createLogger({
  level: "debug",
  destination: new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  }),
});

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db?.drop();
});

function cipher() {
  return createCipher({
    sql: db.sql,
    keys: createLocalKeyProvider({ masterKey: randomBytes(32) }),
    logger,
  });
}

describe("legacy plaintext", () => {
  it("is read from a CRYPTO account's api_key and api_secret, and every read is counted in the log", async () => {
    const [row] = await db.sql<{ id: number }[]>`
      INSERT INTO accounts (name, exchange, api_key, api_secret)
      VALUES ('legacy upbit', 'upbit', 'LEGACYKEY123', 'legacy-secret-456') RETURNING id`;
    const reader = cipher();
    const id = row?.id as number;
    const account = await getAccount(db.sql, reader, id);
    expect(account.apiKey).toBe("LEGACYKEY123");
    expect(account.apiSecret).toBe("legacy-secret-456");
    await getAccount(db.sql, reader, id);
    const counted = lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.msg === "legacy plaintext read");
    expect(counted.map((line) => [line.column, line.row_id, line.legacy_plaintext_reads])).toEqual([
      ["api_key", id, 1],
      ["api_secret", id, 2],
      ["api_key", id, 3],
      ["api_secret", id, 4],
    ]);
    expect(lines.join("")).not.toContain("LEGACYKEY123");
    expect(lines.join("")).not.toContain("legacy-secret-456");
  });

  it("is never taken from a SECURITIES_STOCK account", async () => {
    const writer = cipher();
    const account = await securitiesAccount(db.sql, writer);
    await db.sql`UPDATE accounts SET api_secret = 'planted-plaintext' WHERE id = ${account.id}`;
    const error = await getAccount(db.sql, writer, account.id).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CiphertextAuthenticationError);
    expect((error as Error).message).toBe(
      `value of accounts.api_secret of row ${account.id} is not encrypted`,
    );
  });
});

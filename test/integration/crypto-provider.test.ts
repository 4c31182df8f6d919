import { afterAll, beforeAll, expect, it } from "vitest";
import { KeyProviderMismatchError } from "../../core/crypto";
import { createTestCipher } from "../support/crypto";
import { createTestDatabase, type TestDatabase } from "../support/database";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db?.drop();
});

it("an operator tool with the local key refuses to write into a database whose data keys KMS wrapped", async () => {
  await db.sql`
    INSERT INTO data_keys (master_key_id, wrapped_key)
    VALUES ('arn:aws:kms:ap-northeast-2:111122223333:key/prod', '\\x0102')`;
  const { cipher } = createTestCipher(db.sql);
  const error = await cipher
    .encrypt("secret", { table: "accounts", column: "api_key", rowId: 1 })
    .catch((e: unknown) => e);
  expect(error).toBeInstanceOf(KeyProviderMismatchError);
  expect((error as Error).message).toContain("set KMS_KEY_ID to that key");
  const [row] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM data_keys`;
  expect(row?.n).toBe(1);
});

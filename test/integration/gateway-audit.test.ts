/**
 * The audit keeps the caller's transaction id cut to what its column holds
 * (broker_calls.transaction_id VARCHAR(40)). A mutation trial cut it at 41
 * characters: every such call's audit row was lost to "value too long", and
 * every test passed.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { createSql, type Sql } from "../../core/db";
import { type CallRecord, recordCall } from "../../core/gateway/audit";
import { transactionId } from "../../core/gateway/request";
import { createTestDatabase, type TestDatabase } from "../support/database";

let db: TestDatabase;
let runtime: Sql;
let accountId: number;

beforeAll(async () => {
  db = await createTestDatabase();
  runtime = createSql(db.runtimeUrl, { max: 1 });
  const [account] = await db.sql<{ id: number }[]>`
    INSERT INTO accounts (name, exchange) VALUES ('audit', 'KIS') RETURNING id`;
  accountId = account?.id as number;
});
afterAll(async () => {
  await runtime?.end();
  await db?.drop();
});

function call(headers: Record<string, string>): CallRecord {
  return {
    account_id: accountId,
    called_at: new Date(),
    broker: "KIS",
    environment: "real",
    method: "GET",
    path: "/uapi/x",
    transaction_id: transactionId(headers),
    status: 200,
    broker_code: null,
    latency_ms: 1,
    key_id: "k",
    replayed: false,
  };
}

it("records a call whose tr_id is longer than the column, cut to the column's 40 characters", async () => {
  const long = `T${"X".repeat(49)}`;
  await recordCall(runtime, call({ tr_id: long }), false);
  const rows = await db.sql<{ transaction_id: string }[]>`
    SELECT transaction_id FROM broker_calls WHERE account_id = ${accountId} AND transaction_id LIKE 'TX%'`;
  expect(rows.map((r) => r.transaction_id)).toEqual([long.slice(0, 40)]);
});

it("records a Kiwoom api-id longer than the column the same way", async () => {
  const long = `ka${"9".repeat(48)}`;
  await recordCall(runtime, call({ "api-id": long }), false);
  const rows = await db.sql<{ transaction_id: string }[]>`
    SELECT transaction_id FROM broker_calls WHERE account_id = ${accountId} AND transaction_id LIKE 'ka%'`;
  expect(rows.map((r) => r.transaction_id)).toEqual([long.slice(0, 40)]);
});

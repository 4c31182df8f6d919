import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startTestServer, type TestServer } from "../support/server";

// A request cut off at 5 s (API Gateway's 29 s, scaled down), a broker
// timeout of 2 s (so an issuance needs 3 s once claimed) and a Kiwoom pace of
// 6 s per app key: a forced refresh right after an issue would have to wait
// for the pace past the last moment it could still claim (2 s into it).
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    requestTimeoutMs: 5_000,
    env: {
      BROKER_TIMEOUT_MS: "2000",
      KIWOOM_MIN_ISSUE_INTERVAL_MS: "6000",
      TOKEN_ISSUE_WAIT_MS: "10000",
    },
  });
});
afterAll(async () => {
  await server?.stop();
});

async function slot() {
  const [row] = await server.db.sql<
    { lease_owner: string | null; next_allowed_at: Date | null; last_issued_at: Date | null }[]
  >`SELECT lease_owner, next_allowed_at, last_issued_at FROM broker_issuance_slots`;
  return row;
}

test("a token request that could only claim an issuance too close to its deadline answers 503 at once, claiming nothing and calling no broker; with time left it issues", async () => {
  const created = await server.call("/accounts", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      name: "Kiwoom mock",
      account_type: "SECURITIES_STOCK",
      exchange: "KIWOOM",
      environment: "paper",
      api_key: `kw-${randomBytes(12).toString("hex")}`,
      api_secret: `secret-${randomBytes(16).toString("hex")}`,
      securities_config: { account_number: "1234567890", market_type: "DOMESTIC_STOCK" },
    }),
  });
  expect(created.status).toBe(201);
  const { id } = (await created.json()) as { id: number };
  expect((await server.call(`/accounts/${id}/token`)).status).toBe(200);
  const issued = () => server.sandbox.sandbox.stats().issued.total;
  expect(issued()).toBe(1);
  const before = await slot();

  const refused = await server.call(`/accounts/${id}/token/refresh`, { method: "POST" });
  expect(refused.status).toBe(503);
  expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  expect(issued()).toBe(1);
  expect(await slot()).toEqual(before);

  // Past the pace a whole request is left, and the refresh goes through.
  await sleep(6_100);
  const refreshed = await server.call(`/accounts/${id}/token/refresh`, { method: "POST" });
  expect(refreshed.status).toBe(200);
  expect(issued()).toBe(2);
});

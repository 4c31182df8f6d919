import { afterAll, beforeAll, expect, test } from "vitest";
import { startTestServer, type TestServer } from "../support/server";

// Two servers on one database and one master key: the first writes the
// accounts, the second starts with a cold cipher cache (no data key
// unwrapped yet), as a fresh process or a new Lambda container does.
let writer: TestServer;
let cold: TestServer;
const POOL = 10;

beforeAll(async () => {
  writer = await startTestServer();
  cold = await startTestServer({
    db: writer.db,
    masterKey: writer.masterKey,
    maxConnections: POOL,
  });
});

afterAll(async () => {
  await cold?.stop();
  await writer?.stop();
});

function kisAccount(i: number) {
  return {
    name: `pool ${i}`,
    account_type: "SECURITIES_STOCK",
    exchange: "KIS",
    environment: "paper",
    api_key: `PSpool${i}-${"k".repeat(20)}`,
    api_secret: `secret-${i}-${"s".repeat(24)}`,
    securities_config: {
      account_number: "50123456",
      product_code: "01",
      market_type: "DOMESTIC_STOCK",
    },
  };
}

test(`${POOL} concurrent PATCHes on a cold cipher cache all finish on a pool of ${POOL}`, async () => {
  const ids: number[] = [];
  for (let i = 0; i < POOL; i++) {
    const response = await writer.call("/accounts", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(kisAccount(i)),
    });
    expect(response.status).toBe(201);
    ids.push(((await response.json()) as { id: number }).id);
  }
  const patches = Promise.all(
    ids.map((id, i) =>
      cold.call(`/accounts/${id}`, {
        method: "PATCH",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          name: `renamed ${i}`,
          api_secret: `new-secret-${i}-${"n".repeat(24)}`,
        }),
      }),
    ),
  );
  // A deadlocked pool never answers: give up after a generous bound
  // (a liveness check, not a speed goal; the requests take milliseconds).
  const outcome = await Promise.race([
    patches,
    new Promise<"deadlock">((resolve) => setTimeout(() => resolve("deadlock"), 20_000).unref()),
  ]);
  expect(outcome).not.toBe("deadlock");
  const responses = outcome as Response[];
  expect(responses.map((r) => r.status)).toEqual(ids.map(() => 200));
  const names = await Promise.all(
    ids.map(
      async (id) => ((await (await cold.call(`/accounts/${id}`)).json()) as { name: string }).name,
    ),
  );
  expect(names).toEqual(ids.map((_, i) => `renamed ${i}`));
});

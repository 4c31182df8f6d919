import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { startTestServer, type TestServer } from "../support/server";

// Revokes, deactivation and the credential-change race, end to end: the API
// over real HTTP, the broker sandbox over real HTTP, a real database.
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    env: { TOKEN_ISSUE_WAIT_MS: "5000", BROKER_TIMEOUT_MS: "10000" },
  });
});
afterAll(async () => {
  await server?.stop();
});
beforeEach(() => {
  server.sandbox.sandbox.configure({ latencyMs: 0 });
});

const appKey = () => `PS${randomBytes(12).toString("hex")}`;

async function createKis(key: string): Promise<number> {
  const response = await server.call("/accounts", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      name: "KIS",
      account_type: "SECURITIES_STOCK",
      exchange: "KIS",
      environment: "real",
      api_key: key,
      api_secret: `secret-${randomBytes(16).toString("hex")}`,
      securities_config: {
        account_number: "12345678",
        product_code: "01",
        market_type: "DOMESTIC_STOCK",
      },
    }),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { id: number }).id;
}

async function token(id: number): Promise<string> {
  const response = await server.call(`/accounts/${id}/token`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

async function patch(id: number, body: unknown): Promise<Response> {
  return server.call(`/accounts/${id}`, {
    method: "PATCH",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** Whether the broker (the sandbox, over HTTP) accepts the token for this app key. */
async function brokerAccepts(accessToken: string, key: string): Promise<boolean> {
  const url = `${server.sandbox.sandbox.baseUrls.KIS.real}/uapi/domestic-stock/v1/quotations/inquire-price?FID_COND_MRKT_DIV_CODE=J&FID_INPUT_ISCD=005930`;
  const response = await fetch(url, {
    headers: {
      authorization: `Bearer ${accessToken}`,
      appkey: key,
      appsecret: "x",
      tr_id: "FHKST01010100",
    },
  });
  return ((await response.json()) as { rt_cd?: string }).rt_cd === "0";
}

const revokedAtBroker = () => server.sandbox.sandbox.stats().revoked.total;

async function storedTokenCount(id: number): Promise<number> {
  const [row] = await server.db.sql<{ n: number; mirror: number }[]>`
    SELECT (SELECT count(*)::int FROM securities_tokens WHERE account_id = ${id}) AS n,
           (SELECT count(*)::int FROM accounts WHERE id = ${id} AND access_token IS NOT NULL) AS mirror`;
  return (row?.n ?? 0) + (row?.mirror ?? 0);
}

describe("accounts sharing an app key share one token", () => {
  test("deleting one keeps the token the other still holds; deleting the last revokes it", async () => {
    const key = appKey();
    const first = await createKis(key);
    const second = await createKis(key);
    const shared = await token(first);
    expect(await token(second)).toBe(shared);
    const before = revokedAtBroker();

    expect((await server.call(`/accounts/${first}`, { method: "DELETE" })).status).toBe(204);
    expect(revokedAtBroker()).toBe(before);
    expect(await brokerAccepts(shared, key)).toBe(true);
    expect(await token(second)).toBe(shared);

    expect((await server.call(`/accounts/${second}`, { method: "DELETE" })).status).toBe(204);
    expect(revokedAtBroker()).toBe(before + 1);
    expect(await brokerAccepts(shared, key)).toBe(false);
  });

  test("a credential change on one drops its copy but does not revoke the token its sibling holds", async () => {
    const key = appKey();
    const first = await createKis(key);
    const second = await createKis(key);
    const shared = await token(first);
    expect(await token(second)).toBe(shared);
    const before = revokedAtBroker();

    expect((await patch(first, { api_key: appKey() })).status).toBe(200);
    expect(await storedTokenCount(first)).toBe(0);
    expect(revokedAtBroker()).toBe(before);
    expect(await brokerAccepts(shared, key)).toBe(true);
    expect(await token(second)).toBe(shared);
  });
});

test("a sibling's token stored before migration 0009 (no credential key) still counts as held", async () => {
  const key = appKey();
  const first = await createKis(key);
  const second = await createKis(key);
  const shared = await token(first);
  expect(await token(second)).toBe(shared);
  await server.db.sql`
    UPDATE securities_token_state SET token_credential_key = NULL WHERE account_id = ${second}`;
  const before = revokedAtBroker();
  expect((await server.call(`/accounts/${first}`, { method: "DELETE" })).status).toBe(204);
  expect(revokedAtBroker()).toBe(before);
  expect(await brokerAccepts(shared, key)).toBe(true);
});

describe("deactivation", () => {
  test("is_active=false revokes the account's token at the broker and removes it", async () => {
    const key = appKey();
    const id = await createKis(key);
    const issued = await token(id);
    const before = revokedAtBroker();

    expect((await patch(id, { is_active: false })).status).toBe(200);
    expect(revokedAtBroker()).toBe(before + 1);
    expect(await brokerAccepts(issued, key)).toBe(false);
    expect(await storedTokenCount(id)).toBe(0);
    expect((await server.call(`/accounts/${id}/token`)).status).toBe(409);
  });
});

/** Starts a token read for the account and resolves once its issuance is at the broker (the sandbox answers after its latency). */
async function readingWhileIssuing(id: number): Promise<{ reading: Promise<Response> }> {
  server.sandbox.sandbox.configure({ latencyMs: 2_500 });
  const reading = server.call(`/accounts/${id}/token`);
  for (;;) {
    const [leased] = await server.db.sql`
      SELECT 1 FROM broker_issuance_slots WHERE lease_owner IS NOT NULL`;
    if (leased) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  // Wrapped: an async function would otherwise wait for the response itself.
  return { reading };
}

describe("a PATCH during an issuance", () => {
  test("changing only the account number keeps the token being issued: no revoke, no second issue", async () => {
    const key = appKey();
    const id = await createKis(key);
    const stats = () => server.sandbox.sandbox.stats();
    const before = { revoked: stats().revoked.total, kakaoTalk: stats().issued.kakaoTalk };
    const { reading } = await readingWhileIssuing(id);
    expect((await patch(id, { securities_config: { account_number: "87654321" } })).status).toBe(
      200,
    );
    const response = await reading;
    server.sandbox.sandbox.configure({ latencyMs: 0 });
    expect(response.status).toBe(200);
    const got = ((await response.json()) as { access_token: string }).access_token;
    expect(await token(id)).toBe(got);
    expect(await brokerAccepts(got, key)).toBe(true);
    expect(stats().revoked.total).toBe(before.revoked);
    expect(stats().issued.kakaoTalk).toBe(before.kakaoTalk + 1);
    const attempts = await server.db.sql<{ action: string; outcome: string }[]>`
      SELECT action, outcome FROM securities_token_attempts WHERE account_id = ${id} ORDER BY id`;
    expect(attempts).toEqual([{ action: "issue", outcome: "ok" }]);
  });

  test("changing the app key records the revoke of the discarded token", async () => {
    const id = await createKis(appKey());
    const { reading } = await readingWhileIssuing(id);
    expect((await patch(id, { api_key: appKey() })).status).toBe(200);
    expect((await reading).status).toBe(200);
    server.sandbox.sandbox.configure({ latencyMs: 0 });
    const revokes = await server.db.sql<{ outcome: string; trigger: string }[]>`
      SELECT outcome, trigger FROM securities_token_attempts
      WHERE account_id = ${id} AND action = 'revoke' ORDER BY id`;
    expect(revokes).toEqual([{ outcome: "ok", trigger: "credentials_changed_during_issue" }]);
  });
});

describe("credential-change race", () => {
  test("a token issued under the old app key while a PATCH changes it is not stored; the caller gets one under the new key", async () => {
    const oldKey = appKey();
    const newKey = appKey();
    const id = await createKis(oldKey);
    server.sandbox.sandbox.configure({ latencyMs: 2_500 });
    const before = revokedAtBroker();
    // The issuance starts under the old key and is still at the broker…
    const reading = server.call(`/accounts/${id}/token`);
    for (;;) {
      const [leased] = await server.db.sql`
        SELECT 1 FROM broker_issuance_slots WHERE lease_owner IS NOT NULL`;
      if (leased) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // …when the key changes (no token stored yet, so the PATCH calls no broker).
    expect((await patch(id, { api_key: newKey })).status).toBe(200);
    const response = await reading;
    server.sandbox.sandbox.configure({ latencyMs: 0 });
    expect(response.status).toBe(200);
    const got = ((await response.json()) as { access_token: string }).access_token;
    expect(await brokerAccepts(got, newKey)).toBe(true);
    expect(await token(id)).toBe(got);
    // The old key's token was not kept: revoked, as nobody holds it.
    expect(revokedAtBroker()).toBe(before + 1);
    const [attempt] = await server.db.sql<{ outcome: string }[]>`
      SELECT outcome FROM securities_token_attempts
      WHERE account_id = ${id} AND action = 'issue' ORDER BY id LIMIT 1`;
    expect(attempt?.outcome).toBe("discarded");
  });
});

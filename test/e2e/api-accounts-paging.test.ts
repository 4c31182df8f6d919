import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { accountListSchema, PROBLEM_BASE } from "../../core/api";
import { startTestServer, type TestServer } from "../support/server";

let server: TestServer;
const ids: number[] = [];

function cryptoAccount(i: number) {
  return {
    name: `paging ${i}`,
    account_type: "CRYPTO",
    exchange: "upbit",
    api_key: `upbit-key-${i}-${"k".repeat(16)}`,
    api_secret: `upbit-secret-${i}-${"s".repeat(16)}`,
  };
}

beforeAll(async () => {
  server = await startTestServer();
  for (let i = 0; i < 5; i++) {
    const response = await server.call("/accounts", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(cryptoAccount(i)),
    });
    expect(response.status).toBe(201);
    ids.push(((await response.json()) as { id: number }).id);
  }
});

afterAll(async () => {
  await server?.stop();
});

async function page(query: string) {
  const response = await server.call(`/accounts${query}`);
  expect(response.status).toBe(200);
  return accountListSchema.parse(await response.json());
}

describe("GET /accounts pages", () => {
  test("walks every account once, in id order, a limit at a time, ending with a null cursor", async () => {
    const seen: number[] = [];
    const sizes: number[] = [];
    let cursor: string | null = null;
    do {
      const body: { accounts: { id: number }[]; next_cursor: string | null } = await page(
        `?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      );
      sizes.push(body.accounts.length);
      seen.push(...body.accounts.map((a) => a.id));
      cursor = body.next_cursor;
    } while (cursor);
    expect(seen).toEqual(ids);
    expect(sizes).toEqual([2, 2, 1]);
  });

  test("answers 100 at most by default with next_cursor null when all fit", async () => {
    const body = await page("");
    expect(body.accounts.map((a) => a.id)).toEqual(ids);
    expect(body.next_cursor).toBeNull();
  });

  test("a limit of exactly the remaining rows says there is no next page", async () => {
    const body = await page("?limit=5");
    expect(body.accounts).toHaveLength(5);
    expect(body.next_cursor).toBeNull();
  });

  test.each([
    ["limit=0", "limit"],
    ["limit=501", "limit"],
    ["limit=abc", "limit"],
    ["limit=2&limit=3", "limit"],
    ["cursor=not-a-cursor", "cursor"],
    ["cursor=YTA", "cursor"],
  ])("?%s is a 400 naming %s", async (query, field) => {
    const response = await server.call(`/accounts?${query}`);
    expect(response.status).toBe(400);
    const problem = (await response.json()) as { type: string; errors: { field: string }[] };
    expect(problem.type).toBe(`${PROBLEM_BASE}validation`);
    expect(problem.errors).toEqual([expect.objectContaining({ field })]);
  });

  test("a row that cannot be decrypted is listed as its error; the other rows and the page still come", async () => {
    const [broken, donor] = [ids[1] as number, ids[2] as number];
    // A ciphertext copied from another row fails authentication (it is bound to its row).
    await server.db.sql`
      UPDATE accounts SET api_secret = (SELECT api_secret FROM accounts WHERE id = ${donor})
      WHERE id = ${broken}`;
    const body = await page("?limit=3");
    expect(body.accounts.map((a) => a.id)).toEqual(ids.slice(0, 3));
    const row = body.accounts[1] as { id: number; error?: { code: string; message: string } };
    expect(row.error?.code).toBe("ciphertext_rejected");
    expect(row.error?.message).toContain(`row ${broken}`);
    expect(JSON.stringify(body)).not.toContain("upbit-secret");
    expect(body.accounts[0]).toHaveProperty("name", "paging 0");
    expect(body.next_cursor).not.toBeNull();
    // The single-account route still refuses it as a whole.
    expect((await server.call(`/accounts/${broken}`)).status).toBe(500);
  });
});

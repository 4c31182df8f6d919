import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { loadBrokerCredentials } from "../../core/accounts";
import { toProblem } from "../../core/api/problems";
import { createBrokerRegistry, parseBrokerSettings } from "../../core/brokers";
import { refreshDueTokens, TokenIssuanceDeferredError } from "../../core/tokens";
import { approvalKeyBinding } from "../../core/tokens/approval";
import { createTestCipher, type TestCipher } from "../support/crypto";
import type { TestDatabase } from "../support/database";
import { manualClock, type TestBrokerSandbox } from "../support/sandbox";
import {
  type OffsetClock,
  securitiesAccount,
  tokenService,
  useTokenTestBed,
} from "../support/tokens";

/** The KIS websocket approval key's lifecycle, against the sandbox over HTTP and a recorded body. */

const HOUR = 3_600_000;
let db: TestDatabase;
let broker: TestBrokerSandbox;
let clock: OffsetClock;
let crypto: TestCipher;

const advance = useTokenTestBed((bed) => {
  ({ db, clock, broker, crypto } = bed);
});
beforeEach(async () => {
  broker.sandbox.resetStats();
  broker.sandbox.configure({ failNext: [], failNextCodes: [] });
  await db.sql`DELETE FROM accounts`;
  await db.sql`DELETE FROM broker_issuance_slots`;
  await advance(120_000);
});

const service = (settings: Parameters<typeof tokenService>[0]["settings"] = {}, owner?: string) => {
  const built = tokenService({
    sql: db.sql,
    cipher: crypto.cipher,
    brokers: broker.registry(),
    clock,
    settings,
  });
  return owner ? { ...built, owner } : built;
};

async function storedRow(accountId: number) {
  const [row] = await db.sql<{ approval_key: string; expires_at: Date }[]>`
    SELECT approval_key, expires_at FROM securities_approval_keys WHERE account_id = ${accountId}
  `;
  return row;
}

describe("the sandbox's POST /oauth2/Approval", () => {
  it("takes the app secret in secretkey and refuses a body that sends appsecret instead", async () => {
    const url = `${broker.sandbox.baseUrls.KIS.paper}/oauth2/Approval`;
    const post = (body: Record<string, string>) =>
      fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json; charset=utf-8" },
        body: JSON.stringify({ grant_type: "client_credentials", appkey: "PSapproval", ...body }),
      });
    const wrong = await post({ appsecret: "s" });
    expect(wrong.status).toBe(403);
    expect(await wrong.json()).toMatchObject({ error_code: "EGW00104" });
    const right = await post({ secretkey: "s" });
    expect(right.status).toBe(200);
    expect(await right.json()).toEqual({ approval_key: expect.any(String) });
    expect(broker.sandbox.stats().approvalKeys.issued).toBe(1);
  });
});

describe("approval keys against the sandbox", () => {
  it("is issued once, with secretkey, stored encrypted and bound to its row, and served from cache the second time", async () => {
    const tokens = service();
    const account = await securitiesAccount(db.sql, crypto.cipher, { broker: "KIS" });
    const before = clock.now().getTime();
    const first = await tokens.getApprovalKey(account.id);
    const second = await tokens.getApprovalKey(account.id);
    expect(second).toEqual(first);
    // The sandbox refuses appsecret: an issued key proves secretkey was sent.
    expect(broker.sandbox.stats().approvalKeys.issued).toBe(1);
    expect(first.expiresAt.getTime()).toBeGreaterThanOrEqual(before + 24 * HOUR);
    expect(first.expiresAt.getTime()).toBeLessThanOrEqual(clock.now().getTime() + 24 * HOUR);

    const row = await storedRow(account.id);
    expect(row?.approval_key).not.toContain(first.approvalKey);
    expect(
      await crypto.cipher.decrypt(row?.approval_key ?? "", approvalKeyBinding(account.id)),
    ).toBe(first.approvalKey);
    // Copied to another account's row, the ciphertext does not decrypt.
    await expect(
      crypto.cipher.decrypt(row?.approval_key ?? "", approvalKeyBinding(account.id + 1)),
    ).rejects.toThrow();
  });

  it("one issuance per app key across processes, shared by accounts with the same app key", async () => {
    const appKey = `PSshared${Date.now()}`;
    const a = await securitiesAccount(db.sql, crypto.cipher, { broker: "KIS", appKey });
    const b = await securitiesAccount(db.sql, crypto.cipher, { broker: "KIS", appKey });
    const one = service({}, "process-one");
    const two = service({}, "process-two");
    const keys = await Promise.all([
      one.getApprovalKey(a.id),
      two.getApprovalKey(a.id),
      two.getApprovalKey(b.id),
      one.getApprovalKey(b.id),
    ]);
    expect(new Set(keys.map((k) => k.approvalKey)).size).toBe(1);
    expect(broker.sandbox.stats().approvalKeys.issued).toBe(1);
    expect(await storedRow(b.id)).toBeTruthy();
  });

  it("is paced: a second issue for the same app key within a minute is deferred with a Retry-After, nothing sent", async () => {
    const tokens = service({ issueWaitMs: 0 });
    const account = await securitiesAccount(db.sql, crypto.cipher, { broker: "KIS" });
    await tokens.getApprovalKey(account.id);
    await db.sql`DELETE FROM securities_approval_keys WHERE account_id = ${account.id}`;
    const error = await tokens.getApprovalKey(account.id).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TokenIssuanceDeferredError);
    expect(toProblem(error).headers["Retry-After"]).toBeDefined();
    expect(broker.sandbox.stats().approvalKeys.issued).toBe(1);
  });

  it("is renewed by the refresh job before it expires", async () => {
    const tokens = service();
    const account = await securitiesAccount(db.sql, crypto.cipher, { broker: "KIS" });
    const first = await tokens.getApprovalKey(account.id);
    await tokens.getValidToken(account.id);

    await advance(HOUR);
    expect((await refreshDueTokens({ sql: db.sql, tokens, clock })).approvalKeys.due).toBe(0);

    await advance(18 * HOUR + 30 * 60_000);
    const run = await refreshDueTokens({ sql: db.sql, tokens, clock });
    expect(run.approvalKeys).toMatchObject({ due: 1, issued: 1, failed: 0 });
    const renewed = await tokens.getApprovalKey(account.id);
    expect(renewed.approvalKey).not.toBe(first.approvalKey);
    expect(renewed.expiresAt.getTime()).toBeGreaterThan(first.expiresAt.getTime());
    expect(broker.sandbox.stats().approvalKeys.issued).toBe(2);
  });

  it("is removed when the account's credentials change", async () => {
    const tokens = service();
    const account = await securitiesAccount(db.sql, crypto.cipher, { broker: "KIS" });
    await tokens.getValidToken(account.id);
    await tokens.getApprovalKey(account.id);
    const previous = await loadBrokerCredentials(db.sql, crypto.cipher, account.id);
    await tokens.retireToken(previous, "credentials_changed");
    expect(await storedRow(account.id)).toBeUndefined();
  });

  it("a Kiwoom account gets a clear 409: its websocket uses the access token", async () => {
    const tokens = service();
    const account = await securitiesAccount(db.sql, crypto.cipher, {
      broker: "KIWOOM",
      environment: "paper",
    });
    const error = await tokens.getApprovalKey(account.id).catch((caught: unknown) => caught);
    const { problem } = toProblem(error);
    expect(problem).toMatchObject({ status: 409, code: "websocket_key_not_supported" });
    expect(problem.detail).toContain("accepts that token only from the address that issued it");
    expect(broker.sandbox.stats().requests).toBe(0);
  });
});

describe("approval keys against a recorded body", () => {
  const body = (
    JSON.parse(
      readFileSync(
        join(import.meta.dirname, "../fixtures/brokers/kis-approval-success.json"),
        "utf8",
      ),
    ) as { response: { body: unknown } }
  ).response.body;
  it("is issued once, with secretkey, and served from cache the second time", async () => {
    // The sandbox answers the next approval request with the recorded body.
    broker.sandbox.configure({
      answerNext: [{ broker: "KIS", path: "/oauth2/Approval", status: 200, body }],
    });
    const fixed = manualClock(new Date("2025-01-06T00:30:00Z"));
    const registry = createBrokerRegistry(parseBrokerSettings(broker.env), { clock: fixed });
    const cipher = createTestCipher(db.sql, { clock: fixed });
    const tokens = tokenService({
      sql: db.sql,
      cipher: cipher.cipher,
      brokers: registry,
      clock: fixed,
    });
    const account = await securitiesAccount(db.sql, cipher.cipher, { broker: "KIS" });
    const first = await tokens.getApprovalKey(account.id);
    fixed.advance(HOUR);
    const second = await tokens.getApprovalKey(account.id);
    expect(first).toEqual({
      approvalKey: "a2f1c9e0-7b4d-4c1e-9f3a-fixture00001",
      expiresAt: new Date("2025-01-07T00:30:00Z"),
    });
    expect(second).toEqual(first);
    const { recorded, requests } = broker.sandbox.stats();
    expect(requests).toBe(1);
    expect(recorded).toHaveLength(1);
    expect(recorded[0]?.path).toBe("/oauth2/Approval");
    expect(recorded[0]?.body).toMatchObject({
      grant_type: "client_credentials",
      secretkey: expect.any(String),
    });
    expect(recorded[0]?.body).not.toHaveProperty("appsecret");
  });
});

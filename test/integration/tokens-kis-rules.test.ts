import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { tokenBinding } from "../../core/accounts";
import { toProblem } from "../../core/api/problems";
import { createBrokerRegistry, parseBrokerSettings } from "../../core/brokers";
import { refreshDueTokens, TokenNotRenewedError } from "../../core/tokens";
import { createTestCipher, type TestCipher } from "../support/crypto";
import type { TestDatabase } from "../support/database";
import { manualClock, type TestBrokerSandbox } from "../support/sandbox";
import {
  type OffsetClock,
  securitiesAccount,
  shiftDatabaseTimes,
  tokenService,
  useTokenTestBed,
} from "../support/tokens";

/** KIS's 6-hour rule and Kiwoom's token_type, against the sandbox over HTTP and against recorded bodies. */

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
  await db.sql`DELETE FROM accounts`;
  await advance(120_000);
});

const service = (refreshWindowMs = 6 * HOUR) =>
  tokenService({
    sql: db.sql,
    cipher: crypto.cipher,
    brokers: broker.registry(),
    clock,
    settings: { refreshWindowMs },
  });

/** KIS's quotation endpoint with a token: true when KIS accepts it. */
async function kisAccepts(appKey: string, token: string): Promise<boolean> {
  const response = await fetch(
    `${broker.sandbox.baseUrls.KIS.real}/uapi/domestic-stock/v1/quotations/inquire-price?FID_COND_MRKT_DIV_CODE=J&FID_INPUT_ISCD=005930`,
    {
      headers: {
        authorization: `Bearer ${token}`,
        appkey: appKey,
        appsecret: "x",
        tr_id: "FHKST01010100",
        custtype: "P",
      },
    },
  );
  const body = (await response.json()) as { rt_cd?: string };
  return response.status === 200 && body.rt_cd === "0";
}

describe("KIS's 6-hour rule against the sandbox", () => {
  it("a 20-hour refresh window is capped for KIS: no issue (no KakaoTalk) while KIS would hand back the same token, a new token after", async () => {
    const tokens = service(20 * HOUR);
    const account = await securitiesAccount(db.sql, crypto.cipher, { broker: "KIS" });
    const first = await tokens.getValidToken(account.id);
    expect(broker.sandbox.stats().issued.kakaoTalk).toBe(1);

    for (const hours of [1, 2, 4]) {
      await advance(HOUR * (hours === 1 ? 1 : hours / 2));
      const run = await refreshDueTokens({ sql: db.sql, tokens, clock });
      expect(run.issued).toBe(0);
    }
    expect(broker.sandbox.stats().issued).toMatchObject({ total: 1, kakaoTalk: 1 });
    expect((await tokens.getValidToken(account.id)).accessToken).toBe(first.accessToken);

    // 7.5 h after the issue the token expires within 17 h: due, and KIS gives a new one.
    await advance(3.5 * HOUR);
    const run = await refreshDueTokens({ sql: db.sql, tokens, clock });
    expect(run.issued).toBe(1);
    const next = await tokens.getValidToken(account.id);
    expect(next.accessToken).not.toBe(first.accessToken);
    expect(broker.sandbox.stats().issued).toMatchObject({ total: 2, newTokens: 2, kakaoTalk: 2 });
  });

  it("the KIS cap is 17 h, pinned on both sides: a 24-hour token is not renewed 6 h 54 min after its issue, and is 7 h 6 min after", async () => {
    const tokens = service(20 * HOUR);
    const account = await securitiesAccount(db.sql, crypto.cipher, { broker: "KIS" });
    await tokens.getValidToken(account.id);
    // A cap of 18 h or more would make it due at 6 h (KIS then answers with a new token, and a KakaoTalk).
    await advance(6.9 * HOUR);
    const before = await refreshDueTokens({ sql: db.sql, tokens, clock });
    expect({ issued: before.issued, current: before.current }).toEqual({ issued: 0, current: 1 });
    // A cap of 16 h or less would leave it another hour.
    await advance(0.2 * HOUR);
    const after = await refreshDueTokens({ sql: db.sql, tokens, clock });
    expect(after.issued).toBe(1);
    expect(broker.sandbox.stats().issued).toMatchObject({ total: 2, newTokens: 2, kakaoTalk: 2 });
  });

  it("a forced refresh within 6 hours revokes the current token first, so the token it reports is really new", async () => {
    const tokens = service();
    const account = await securitiesAccount(db.sql, crypto.cipher, { broker: "KIS" });
    const first = await tokens.getValidToken(account.id);
    await advance(2 * HOUR);
    const refreshed = await tokens.forceRefresh(account.id);
    expect(refreshed.accessToken).not.toBe(first.accessToken);
    expect(refreshed.expiresAt.getTime()).toBeGreaterThan(first.expiresAt.getTime());
    expect(broker.sandbox.stats().revoked.total).toBe(1);
    expect(await kisAccepts(account.apiKey ?? "", first.accessToken)).toBe(false);
    expect(await kisAccepts(account.apiKey ?? "", refreshed.accessToken)).toBe(true);
    expect((await tokens.getValidToken(account.id)).accessToken).toBe(refreshed.accessToken);
  });

  it("a forced refresh whose issue fails after the revoke leaves the revoked token marked, so the next read issues", async () => {
    const tokens = service();
    const account = await securitiesAccount(db.sql, crypto.cipher, { broker: "KIS" });
    const first = await tokens.getValidToken(account.id);
    await advance(HOUR);
    broker.sandbox.configure({ failNextCodes: [] });
    // The revoke goes through, then the issue meets a server error.
    let calls = 0;
    const registry = broker.registry({
      post: async (url, body, headers, timeoutMs) => {
        calls += 1;
        if (url.endsWith("/oauth2/tokenP"))
          broker.sandbox.configure({ failNext: ["server_error"] });
        const { postJsonOverHttp } = await import("../../core/brokers");
        return postJsonOverHttp(url, body, headers, timeoutMs);
      },
    });
    const failing = tokenService({ sql: db.sql, cipher: crypto.cipher, brokers: registry, clock });
    await expect(failing.forceRefresh(account.id)).rejects.toMatchObject({
      code: "broker_unavailable",
    });
    expect(calls).toBe(2);
    expect(await kisAccepts(account.apiKey ?? "", first.accessToken)).toBe(false);
    await advance(5 * 60_000);
    const next = await tokens.getValidToken(account.id);
    expect(next.accessToken).not.toBe(first.accessToken);
    expect(await kisAccepts(account.apiKey ?? "", next.accessToken)).toBe(true);
  });
});

describe("Kiwoom's token_type", () => {
  it("is handed out as Bearer though Kiwoom sends bearer", async () => {
    const raw = await fetch(`${broker.sandbox.baseUrls.KIWOOM.paper}/oauth2/token`, {
      method: "POST",
      headers: { "content-type": "application/json;charset=UTF-8", "api-id": "au10001" },
      body: JSON.stringify({ grant_type: "client_credentials", appkey: "kw-case", secretkey: "s" }),
    });
    expect(((await raw.json()) as { token_type: string }).token_type).toBe("bearer");
    const tokens = service();
    const account = await securitiesAccount(db.sql, crypto.cipher, {
      broker: "KIWOOM",
      environment: "paper",
    });
    await advance(2_000);
    expect((await tokens.getValidToken(account.id)).tokenType).toBe("Bearer");
    const [row] = await db.sql<{ token_type: string }[]>`
      SELECT token_type FROM securities_tokens WHERE account_id = ${account.id}
    `;
    expect(row?.token_type).toBe("Bearer");
  });
});

describe("against recorded KIS bodies: a broker that always hands back the same token", () => {
  const FIXTURES = join(import.meta.dirname, "../fixtures/brokers");
  const recorded = (name: string) =>
    (
      JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), "utf8")) as {
        response: { body: unknown };
      }
    ).response.body;
  const answer = (path: string, fixture: string) => ({
    broker: "KIS" as const,
    path,
    status: 200,
    body: recorded(fixture),
  });
  /** The paths the sandbox answered from the recorded bodies, in order. */
  const seen = () => broker.sandbox.stats().recorded.map((request) => request.path);

  it("a forced refresh answers honestly that nothing was renewed when the broker hands the token back even after the revoke", async () => {
    // Every issue answers the recorded token, the revoke included in between.
    broker.sandbox.configure({
      answerNext: [
        answer("/oauth2/tokenP", "kis-issue-success"),
        answer("/oauth2/revokeP", "kis-revoke-code-string"),
        answer("/oauth2/tokenP", "kis-issue-success"),
      ],
    });
    const fixedClock = manualClock(new Date("2025-01-06T00:30:00Z"));
    const registry = createBrokerRegistry(parseBrokerSettings(broker.env), {
      clock: fixedClock,
    });
    const cipher = createTestCipher(db.sql, { clock: fixedClock });
    const tokens = tokenService({
      sql: db.sql,
      cipher: cipher.cipher,
      brokers: registry,
      clock: fixedClock,
    });
    const account = await securitiesAccount(db.sql, cipher.cipher, { broker: "KIS" });
    const first = await tokens.getValidToken(account.id);
    const [before] = await db.sql<{ last_refreshed_at: Date }[]>`
      SELECT last_refreshed_at FROM securities_tokens WHERE account_id = ${account.id}
    `;

    fixedClock.advance(2 * HOUR);
    await shiftDatabaseTimes(db.sql, 2 * HOUR);
    const error = await tokens.forceRefresh(account.id).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TokenNotRenewedError);
    expect(seen().filter((url) => url.endsWith("/oauth2/revokeP"))).toHaveLength(1);
    const { problem } = toProblem(error);
    expect(problem).toMatchObject({ status: 409, code: "token_not_renewed" });
    expect(problem.detail).toContain("nothing was renewed");
    expect(problem.detail).not.toContain(first.accessToken);

    const [after] = await db.sql<{ access_token: string; last_refreshed_at: Date }[]>`
      SELECT access_token, last_refreshed_at FROM securities_tokens WHERE account_id = ${account.id}
    `;
    expect(after?.last_refreshed_at).toEqual(before?.last_refreshed_at);
    expect(await cipher.cipher.decrypt(after?.access_token ?? "", tokenBinding(account.id))).toBe(
      first.accessToken,
    );
    // The refresh job within KIS's reuse window does not ask at all (the cap), so no second "new" token either.
    const refreshed = await tokens.refreshAccount(
      account.id,
      new Date(fixedClock.now().getTime() + 20 * HOUR),
    );
    expect(refreshed).toMatchObject({
      outcome: "current",
      token: { accessToken: first.accessToken },
    });
    expect(seen().filter((url) => url.endsWith("/oauth2/tokenP"))).toHaveLength(2);
    // Nothing reached the sandbox's own model: every request had its recorded answer.
    expect(broker.sandbox.stats().requests).toBe(3);
  });
});

import { beforeEach, describe, expect, it } from "vitest";
import { accountBinding, tokenBinding } from "../../core/accounts";
import { BrokerCredentialsError } from "../../core/brokers";
import { createSql, type Sql } from "../../core/db";
import { refreshDueTokens, TokenIssuanceDeferredError } from "../../core/tokens";
import type { TestCipher } from "../support/crypto";
import type { TestDatabase } from "../support/database";
import type { TestBrokerSandbox } from "../support/sandbox";
import {
  type OffsetClock,
  securitiesAccount,
  tokenService,
  useTokenTestBed,
} from "../support/tokens";

let db: TestDatabase;
let broker: TestBrokerSandbox;
let clock: OffsetClock;
let crypto: TestCipher;

const advance = useTokenTestBed((bed) => {
  ({ db, clock, broker, crypto } = bed);
});
beforeEach(async () => {
  broker.sandbox.resetStats();
  broker.sandbox.configure({ errorRate: 0, latencyMs: 0, failNext: [] });
  await db.sql`DELETE FROM accounts`;
  // Each test starts past every pace the previous one left.
  await advance(120_000);
});

const service = (overrides: Parameters<typeof tokenService>[0]["settings"] = {}) =>
  tokenService({
    sql: db.sql,
    cipher: crypto.cipher,
    brokers: broker.registry(),
    clock,
    settings: overrides,
  });

async function storedAndMirror(accountId: number) {
  const [row] = await db.sql<
    {
      store: string | null;
      mirror: string | null;
      expires_at: Date | null;
      mirror_expires: Date | null;
    }[]
  >`
    SELECT st.access_token AS store, a.access_token AS mirror, st.expires_at, a.token_expires_at AS mirror_expires
    FROM accounts a LEFT JOIN securities_tokens st ON st.account_id = a.id WHERE a.id = ${accountId}
  `;
  return {
    store: row?.store ? await crypto.cipher.decrypt(row.store, tokenBinding(accountId)) : null,
    mirror: row?.mirror
      ? await crypto.cipher.decrypt(row.mirror, accountBinding("access_token", accountId))
      : null,
    expiresAt: row?.expires_at ?? null,
    mirrorExpiresAt: row?.mirror_expires ?? null,
    rawStore: row?.store ?? null,
  };
}

describe("getValidToken", () => {
  it("issues once, then answers from the cache without calling the broker", async () => {
    const account = await securitiesAccount(db.sql, crypto.cipher);
    const tokens = service();
    const first = await tokens.getValidToken(account.id);
    const second = await tokens.getValidToken(account.id);
    expect(second.accessToken).toBe(first.accessToken);
    expect(broker.sandbox.stats().issued.total).toBe(1);
    expect(first.expiresAt.getTime() - clock.now().getTime()).toBeGreaterThan(23 * 3_600_000);
  });

  it("stores the token encrypted and mirrors it to accounts in the same state", async () => {
    const account = await securitiesAccount(db.sql, crypto.cipher);
    const token = await service().getValidToken(account.id);
    const saved = await storedAndMirror(account.id);
    expect(saved.rawStore).not.toContain(token.accessToken);
    expect(saved.store).toBe(token.accessToken);
    expect(saved.mirror).toBe(token.accessToken);
    expect(saved.mirrorExpiresAt?.getTime()).toBe(saved.expiresAt?.getTime());
    expect(saved.expiresAt?.getTime()).toBe(token.expiresAt.getTime());
  });

  it("issues a new token once the cached one is inside the safety margin", async () => {
    const account = await securitiesAccount(db.sql, crypto.cipher);
    const tokens = service();
    const first = await tokens.getValidToken(account.id);
    await advance(24 * 3_600_000 - 60_000);
    const second = await tokens.getValidToken(account.id);
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(second.expiresAt.getTime()).toBeGreaterThan(clock.now().getTime() + 23 * 3_600_000);
    expect(broker.sandbox.stats().issued.total).toBe(2);
  });

  it("refuses an inactive account's token, cached or not, without calling the broker", async () => {
    const cached = await securitiesAccount(db.sql, crypto.cipher);
    const fresh = await securitiesAccount(db.sql, crypto.cipher);
    const tokens = service();
    await tokens.getValidToken(cached.id);
    await db.sql`UPDATE accounts SET is_active = false WHERE id IN ${db.sql([cached.id, fresh.id])}`;
    for (const id of [cached.id, fresh.id]) {
      await expect(tokens.getValidToken(id)).rejects.toMatchObject({
        kind: "conflict",
        code: "account_inactive",
      });
    }
    expect(broker.sandbox.stats().issued.total).toBe(1);
  });

  it("names an unknown account", async () => {
    await expect(service().getValidToken(999_999)).rejects.toMatchObject({ kind: "not_found" });
  });

  it("defers a forced refresh inside the broker's one-a-minute pace instead of calling it", async () => {
    const account = await securitiesAccount(db.sql, crypto.cipher);
    const tokens = service({ issueWaitMs: 0 });
    await tokens.getValidToken(account.id);
    const error = await tokens.forceRefresh(account.id).catch((e) => e);
    expect(error).toBeInstanceOf(TokenIssuanceDeferredError);
    expect(error.retryAfterMs).toBeGreaterThan(50_000);
    expect(broker.sandbox.stats().rejections.byCode.EGW00133).toBeUndefined();
    expect(broker.sandbox.stats().issued.total).toBe(1);
  });

  it("keeps paper and real tokens apart, even under the same app key", async () => {
    const real = await securitiesAccount(db.sql, crypto.cipher, {
      environment: "real",
      appKey: "SHARED-KEY-1",
    });
    const paper = await securitiesAccount(db.sql, crypto.cipher, {
      environment: "paper",
      appKey: "SHARED-KEY-1",
    });
    const tokens = service();
    const realToken = await tokens.getValidToken(real.id);
    // The sandbox binds an app key to the environment it was first used in, as the brokers do.
    await expect(tokens.getValidToken(paper.id)).rejects.toBeInstanceOf(BrokerCredentialsError);
    expect((await storedAndMirror(paper.id)).store).toBeNull();
    const paperOwn = await securitiesAccount(db.sql, crypto.cipher, {
      environment: "paper",
      appKey: "PAPER-KEY-2",
    });
    const paperToken = await tokens.getValidToken(paperOwn.id);
    expect(paperToken.accessToken).not.toBe(realToken.accessToken);
    const realUrl = `${broker.sandbox.baseUrls.KIS.real}/uapi/domestic-stock/v1/quotations/inquire-price?FID_COND_MRKT_DIV_CODE=J&FID_INPUT_ISCD=005930`;
    const paperUrl = realUrl.replace("/kis/real/", "/kis/paper/");
    const use = async (url: string, token: string, appkey: string) =>
      (await (
        await fetch(url, {
          headers: {
            authorization: `Bearer ${token}`,
            appkey,
            appsecret: "x",
            tr_id: "FHKST01010100",
          },
        })
      ).json()) as { rt_cd: string };
    expect((await use(realUrl, realToken.accessToken, "SHARED-KEY-1")).rt_cd).toBe("0");
    expect((await use(paperUrl, realToken.accessToken, "PAPER-KEY-2")).rt_cd).not.toBe("0");
  });
});

describe("invalidate", () => {
  it("makes the next callers get one fresh token, however many report the rejection", async () => {
    const account = await securitiesAccount(db.sql, crypto.cipher);
    const tokens = service();
    const old = await tokens.getValidToken(account.id);
    await advance(61_000);
    const reports = await Promise.all(
      Array.from({ length: 5 }, () => tokens.invalidate(account.id, old.accessToken)),
    );
    expect(reports.every((r) => r.invalidated)).toBe(true);
    const fresh = await Promise.all(
      Array.from({ length: 5 }, () => tokens.getValidToken(account.id)),
    );
    expect(new Set(fresh.map((t) => t.accessToken)).size).toBe(1);
    expect(fresh[0]?.accessToken).not.toBe(old.accessToken);
    expect(broker.sandbox.stats().issued.total).toBe(2);
    // A late report about the old token changes nothing.
    expect(await tokens.invalidate(account.id, old.accessToken)).toEqual({ invalidated: false });
  });
});

describe("refresh job", () => {
  it("keeps a still-valid token when its refresh fails, and backs the account off", async () => {
    const account = await securitiesAccount(db.sql, crypto.cipher);
    const tokens = service();
    const old = await tokens.getValidToken(account.id);
    await advance(20 * 3_600_000);
    broker.sandbox.configure({ failNext: ["server_error"] });
    const summary = await refreshDueTokens({ sql: db.sql, tokens, clock });
    expect(summary).toMatchObject({ due: 1, claimed: 1, failed: 1, issued: 0 });
    expect((await storedAndMirror(account.id)).store).toBe(old.accessToken);
    expect((await tokens.getValidToken(account.id)).accessToken).toBe(old.accessToken);
    const status = await tokens.status();
    expect(status.accounts[0]).toMatchObject({ state: "failing", consecutive_failures: 1 });
    expect(status.accounts[0]?.next_attempt_at).not.toBeNull();
    const again = await refreshDueTokens({ sql: db.sql, tokens, clock });
    expect(again.due).toBe(0);
  });

  it("makes exactly one issuance per account under ten overlapping runs and fifty concurrent readers", async () => {
    const accounts: { id: number }[] = [];
    for (let i = 0; i < 100; i++) accounts.push(await securitiesAccount(db.sql, crypto.cipher));
    broker.sandbox.configure({ latencyMs: 20 });
    // Several "processes": each with its own pool and service instance.
    const pools: Sql[] = Array.from({ length: 4 }, () => createSql(db.url, { max: 4 }));
    try {
      const services = pools.map((sql) =>
        tokenService({
          sql,
          cipher: crypto.cipher,
          brokers: broker.registry(),
          clock,
          settings: { refreshConcurrency: 8 },
        }),
      );
      const runs = Array.from({ length: 10 }, (_, i) =>
        refreshDueTokens({
          sql: pools[i % pools.length] as Sql,
          tokens: services[i % services.length] as never,
          clock,
        }),
      );
      const readers = Array.from({ length: 50 }, (_, i) =>
        (services[i % services.length] as (typeof services)[number]).getValidToken(
          (accounts[(i * 7) % 100] as { id: number }).id,
        ),
      );
      const [summaries] = await Promise.all([Promise.all(runs), Promise.all(readers)]);
      const stats = broker.sandbox.stats();
      expect(stats.issued.total).toBe(100);
      expect(stats.rejections.byCode.EGW00133).toBeUndefined();
      expect(summaries.reduce((n, s) => n + s.failed, 0)).toBe(0);
      const [stored] = await db.sql`SELECT count(*)::int AS n FROM securities_tokens`;
      expect(stored?.n).toBe(100);
    } finally {
      await Promise.all(pools.map((sql) => sql.end()));
    }
  });

  it("converges with 30% injected faults and never loses a still-valid token", async () => {
    const accounts: { id: number }[] = [];
    for (let i = 0; i < 30; i++) accounts.push(await securitiesAccount(db.sql, crypto.cipher));
    const tokens = service({ backoffBaseMs: 1_000, backoffMaxMs: 1_000 });
    const first = await refreshDueTokens({ sql: db.sql, tokens, clock });
    expect(first.issued + first.failed).toBe(30);
    await advance(19 * 3_600_000);
    broker.sandbox.configure({ errorRate: 0.3 });
    const before = new Map<number, string | null>();
    for (const a of accounts) before.set(a.id, (await storedAndMirror(a.id)).store);
    let runs = 0;
    for (; runs < 12; runs++) {
      await advance(61_000);
      await refreshDueTokens({ sql: db.sql, tokens, clock });
      for (const a of accounts) {
        const saved = await storedAndMirror(a.id);
        expect(saved.store).toBe(saved.mirror);
        if (before.get(a.id)) expect(saved.store).not.toBeNull();
      }
      const [left] = await db.sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM accounts a LEFT JOIN securities_tokens st ON st.account_id = a.id
        WHERE st.expires_at IS NULL OR st.expires_at <= ${new Date(clock.now().getTime() + 6 * 3_600_000)}
      `;
      if (left?.n === 0) break;
    }
    expect(runs).toBeLessThan(12);
    expect(
      broker.sandbox.stats().faults.server_error + broker.sandbox.stats().faults.rate_limit,
    ).toBeGreaterThan(0);
  });

  it("leaves work it could not start within its time budget for the next run", async () => {
    for (let i = 0; i < 6; i++) await securitiesAccount(db.sql, crypto.cipher);
    broker.sandbox.configure({ latencyMs: 400 });
    const tokens = service({ refreshConcurrency: 1, refreshTimeBudgetMs: 1_000 });
    const summary = await refreshDueTokens({ sql: db.sql, tokens, clock });
    expect(summary.issued).toBeGreaterThan(0);
    expect(summary.notStarted).toBeGreaterThan(0);
    expect(summary.issued + summary.notStarted).toBe(6);
    const next = await refreshDueTokens({ sql: db.sql, tokens: service(), clock });
    expect(next.issued).toBe(summary.notStarted);
  });
});

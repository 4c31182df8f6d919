import { afterEach, describe, expect, it } from "vitest";
import {
  type Broker,
  BrokerCredentialsError,
  type BrokerEnvironment,
  BrokerError,
  BrokerRateLimitedError,
  BrokerUnavailableError,
  isTokenRejection,
} from "../../core/brokers";
import { KIS_REUSE_WINDOW_MS } from "../../dev/sandbox";
import {
  type ManualClock,
  startTestBrokerSandbox,
  type TestBrokerSandbox,
  type TestBrokerSandboxOptions,
} from "../support/sandbox";

const started: TestBrokerSandbox[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((sandbox) => sandbox.stop()));
});

async function sandbox(options: TestBrokerSandboxOptions = {}) {
  const test = await startTestBrokerSandbox(options);
  started.push(test);
  return { ...test, clock: test.clock as ManualClock, brokers: test.registry() };
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

function creds(environment: BrokerEnvironment, appKey: string) {
  return { environment, appKey, appSecret: `secret-of-${appKey}` };
}

/** Use a token on the broker's protected endpoint; returns the typed error, or undefined when it worked. */
async function useToken(
  test: Awaited<ReturnType<typeof sandbox>>,
  broker: Broker,
  environment: BrokerEnvironment,
  token: string,
  appKey: string,
) {
  const base = test.sandbox.baseUrls[broker][environment];
  const response =
    broker === "KIS"
      ? await fetch(
          `${base}/uapi/domestic-stock/v1/quotations/inquire-price?FID_COND_MRKT_DIV_CODE=J&FID_INPUT_ISCD=005930`,
          {
            headers: {
              authorization: `Bearer ${token}`,
              appkey: appKey,
              appsecret: `secret-of-${appKey}`,
              tr_id: "FHKST01010100",
            },
          },
        )
      : await fetch(`${base}/api/dostk/stkinfo`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${token}`,
            "api-id": "ka10001",
            "content-type": "application/json;charset=UTF-8",
          },
          body: JSON.stringify({ stk_cd: "005930" }),
        });
  const body: unknown = await response.json();
  return test.brokers.interpretError(broker, { status: response.status, body });
}

async function failure(promise: Promise<unknown>): Promise<BrokerError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(BrokerError);
    return error as BrokerError;
  }
  throw new Error("expected the call to fail");
}

describe("KIS against the sandbox", () => {
  it("issues a 24-hour token that works on the environment that issued it", async () => {
    const test = await sandbox();
    const token = await test.brokers.get("KIS").issueToken(creds("real", "kis-a"));
    expect(token.tokenType).toBe("Bearer");
    expect(token.issuedAt.getTime()).toBe(test.clock.now().getTime());
    expect(token.expiresAt.getTime() - token.issuedAt.getTime()).toBe(24 * HOUR);
    expect(token.expiresIn).toBe(86_400);
    expect(await useToken(test, "KIS", "real", token.accessToken, "kis-a")).toBeUndefined();
  });

  it("refuses a second issue within a minute with EGW00133 and a 60 s retry-after", async () => {
    const test = await sandbox();
    const kis = test.brokers.get("KIS");
    await kis.issueToken(creds("real", "kis-b"));
    test.clock.advance(59_000);
    const error = await failure(kis.issueToken(creds("real", "kis-b")));
    expect(error).toBeInstanceOf(BrokerRateLimitedError);
    expect(error.brokerCode).toBe("EGW00133");
    expect(error.httpStatus).toBe(403);
    expect((error as BrokerRateLimitedError).retryAfterMs).toBe(60_000);
    expect(test.sandbox.stats().rejections.byCode.EGW00133).toBe(1);
  });

  it("limits issues per app key, not per sandbox", async () => {
    const test = await sandbox();
    const kis = test.brokers.get("KIS");
    await kis.issueToken(creds("real", "kis-c1"));
    await expect(kis.issueToken(creds("real", "kis-c2"))).resolves.toBeDefined();
  });

  it("hands back the same token within 6 hours and a new one after", async () => {
    const test = await sandbox();
    const kis = test.brokers.get("KIS");
    const first = await kis.issueToken(creds("paper", "kis-d"));
    test.clock.advance(MINUTE);
    const again = await kis.issueToken(creds("paper", "kis-d"));
    expect(again.accessToken).toBe(first.accessToken);
    expect(again.expiresAt.getTime()).toBe(first.expiresAt.getTime());
    expect(again.expiresIn).toBe(86_400 - 60);
    test.clock.advance(KIS_REUSE_WINDOW_MS);
    const fresh = await kis.issueToken(creds("paper", "kis-d"));
    expect(fresh.accessToken).not.toBe(first.accessToken);
    const stats = test.sandbox.stats();
    expect(stats.issued.total).toBe(3);
    expect(stats.issued.newTokens).toBe(2);
  });

  it("trusts access_token_token_expired over a disagreeing expires_in", async () => {
    const test = await sandbox({ kisExpiresInSkewSeconds: -4000 });
    const token = await test.brokers.get("KIS").issueToken(creds("real", "kis-e"));
    expect(token.expiresAt.getTime()).toBe(test.clock.now().getTime() + 24 * HOUR);
    expect(token.expiresIn).toBe(86_400);
  });

  it("rejects an expired token with EGW00123, as HTTP 500 or as HTTP 200 rt_cd 1", async () => {
    const test = await sandbox();
    const token = await test.brokers.get("KIS").issueToken(creds("real", "kis-f"));
    test.clock.advance(24 * HOUR);
    const asServerError = await useToken(test, "KIS", "real", token.accessToken, "kis-f");
    expect(isTokenRejection(asServerError)).toBe(true);
    expect(asServerError?.brokerCode).toBe("EGW00123");
    expect(asServerError?.httpStatus).toBe(500);
    test.sandbox.configure({ kisTokenErrorStatus: 200 });
    const asOk = await useToken(test, "KIS", "real", token.accessToken, "kis-f");
    expect(isTokenRejection(asOk)).toBe(true);
    expect(asOk?.httpStatus).toBe(200);
  });

  it("revokes a token so it stops working, and treats revoking it again as done", async () => {
    const test = await sandbox();
    const kis = test.brokers.get("KIS");
    const token = await kis.issueToken(creds("real", "kis-g"));
    await kis.revokeToken(creds("real", "kis-g"), token.accessToken);
    const error = await useToken(test, "KIS", "real", token.accessToken, "kis-g");
    expect(isTokenRejection(error)).toBe(true);
    expect(error?.brokerCode).toBe("EGW00121");
    await expect(
      kis.revokeToken(creds("real", "kis-g"), token.accessToken),
    ).resolves.toBeUndefined();
    test.clock.advance(MINUTE);
    const next = await kis.issueToken(creds("real", "kis-g"));
    expect(next.accessToken).not.toBe(token.accessToken);
  });

  it("accepts both spellings of the revoke code", async () => {
    const test = await sandbox();
    const kis = test.brokers.get("KIS");
    for (const key of ["kis-h1", "kis-h2"]) {
      const token = await kis.issueToken(creds("real", key));
      await kis.revokeToken(creds("real", key), token.accessToken);
    }
    expect(test.sandbox.stats().revoked.total).toBe(2);
  });
});

describe("Kiwoom against the sandbox", () => {
  it("issues a token whose expiry comes from expires_dt and works where it was issued", async () => {
    const test = await sandbox();
    const token = await test.brokers.get("KIWOOM").issueToken(creds("paper", "kw-a"));
    // Kiwoom sends "bearer"; callers build `Authorization: <type> <token>` and Kiwoom's samples send Bearer.
    expect(token.tokenType).toBe("Bearer");
    expect(token.expiresAt.getTime()).toBe(test.clock.now().getTime() + 24 * HOUR);
    expect(token.expiresIn).toBe(86_400);
    expect(await useToken(test, "KIWOOM", "paper", token.accessToken, "kw-a")).toBeUndefined();
  });

  it("answers a too-fast second issue with its rate limit, then issues a new token", async () => {
    const test = await sandbox();
    const kiwoom = test.brokers.get("KIWOOM");
    const first = await kiwoom.issueToken(creds("real", "kw-b"));
    const error = await failure(kiwoom.issueToken(creds("real", "kw-b")));
    expect(error).toBeInstanceOf(BrokerRateLimitedError);
    expect(error.brokerCode).toBe("1700");
    test.clock.advance(kiwoom.minIssueIntervalMs);
    const second = await kiwoom.issueToken(creds("real", "kw-b"));
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(await useToken(test, "KIWOOM", "real", first.accessToken, "kw-b")).toBeUndefined();
  });

  it("rejects a revoked token with 8005 and resolves a second revoke", async () => {
    const test = await sandbox();
    const kiwoom = test.brokers.get("KIWOOM");
    const token = await kiwoom.issueToken(creds("real", "kw-c"));
    await kiwoom.revokeToken(creds("real", "kw-c"), token.accessToken);
    const error = await useToken(test, "KIWOOM", "real", token.accessToken, "kw-c");
    expect(isTokenRejection(error)).toBe(true);
    expect(error?.brokerCode).toBe("8005");
    await expect(
      kiwoom.revokeToken(creds("real", "kw-c"), token.accessToken),
    ).resolves.toBeUndefined();
  });
});

describe("both brokers against the sandbox", () => {
  for (const broker of ["KIS", "KIWOOM"] as const) {
    it(`${broker}: an app key starting with INVALID gets the invalid-credentials answer`, async () => {
      const test = await sandbox();
      const error = await failure(
        test.brokers.get(broker).issueToken(creds("real", "INVALID-key")),
      );
      expect(error).toBeInstanceOf(BrokerCredentialsError);
      expect((error as BrokerCredentialsError).problem).toBe("invalid");
      expect(error.kind).toBe("upstream_rejected");
      expect(error.message).not.toContain("INVALID-key");
    });

    it(`${broker}: an empty secret is refused`, async () => {
      const test = await sandbox();
      const error = await failure(
        test.brokers
          .get(broker)
          .issueToken({ environment: "paper", appKey: "any-key", appSecret: "" }),
      );
      if (broker === "KIS") {
        expect(error).toBeInstanceOf(BrokerCredentialsError);
      } else {
        // Kiwoom 8020 "appkey or secretkey missing": what we sent is malformed, not the user's keys.
        expect(error).toMatchObject({ brokerCode: "8020", codeKind: "our_bug" });
      }
    });

    it(`${broker}: paper and real never cross, neither keys nor tokens`, async () => {
      const test = await sandbox();
      const client = test.brokers.get(broker);
      const paper = await client.issueToken(creds("paper", "cross-key"));
      const keyOnReal = await failure(client.issueToken(creds("real", "cross-key")));
      expect(keyOnReal).toBeInstanceOf(BrokerCredentialsError);
      if (broker === "KIWOOM")
        expect((keyOnReal as BrokerCredentialsError).problem).toBe("environment_mismatch");
      const tokenOnReal = await useToken(test, broker, "real", paper.accessToken, "cross-key");
      expect(isTokenRejection(tokenOnReal)).toBe(true);
      if (broker === "KIS") expect(tokenOnReal?.brokerCode).toBe("EGW00123");
      expect(await useToken(test, broker, "paper", paper.accessToken, "cross-key")).toBeUndefined();
      const real = await client.issueToken(creds("real", "real-key"));
      expect(
        isTokenRejection(await useToken(test, broker, "paper", real.accessToken, "real-key")),
      ).toBe(true);
      expect(test.sandbox.stats().issued.byEnvironment[broker]).toEqual({ real: 1, paper: 1 });
    });

    it(`${broker}: early revocation makes live tokens fail`, async () => {
      const test = await sandbox();
      const token = await test.brokers.get(broker).issueToken(creds("real", "early"));
      expect(test.sandbox.revokeAll({ broker })).toBe(1);
      expect(
        isTokenRejection(await useToken(test, broker, "real", token.accessToken, "early")),
      ).toBe(true);
      expect(test.sandbox.stats().revoked.early).toBe(1);
    });

    it(`${broker}: a hanging broker becomes BrokerUnavailableError after the client timeout`, async () => {
      const test = await sandbox({ timeoutMs: 200, failNext: ["timeout"] });
      const error = await failure(test.brokers.get(broker).issueToken(creds("real", "slow")));
      expect(error).toBeInstanceOf(BrokerUnavailableError);
      expect((error as BrokerUnavailableError).reason).toBe("timeout");
      expect(error.kind).toBe("upstream_unavailable");
      expect(test.sandbox.stats().faults.timeout).toBe(1);
      // The next call is answered normally.
      await expect(
        test.brokers.get(broker).issueToken(creds("real", "slow")),
      ).resolves.toBeDefined();
    });

    it(`${broker}: an injected 5xx becomes BrokerUnavailableError`, async () => {
      const test = await sandbox({ failNext: ["server_error", "server_error"] });
      for (let attempt = 0; attempt < 2; attempt += 1) {
        const error = await failure(test.brokers.get(broker).issueToken(creds("real", "flaky")));
        expect(error).toBeInstanceOf(BrokerUnavailableError);
        expect((error as BrokerUnavailableError).reason).toBe("server_error");
      }
    });

    it(`${broker}: an injected rate limit becomes BrokerRateLimitedError`, async () => {
      const test = await sandbox({ failNext: ["rate_limit", "rate_limit", "rate_limit"] });
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const error = await failure(test.brokers.get(broker).issueToken(creds("real", "busy")));
        expect(error).toBeInstanceOf(BrokerRateLimitedError);
        expect((error as BrokerRateLimitedError).retryAfterMs).toBeGreaterThanOrEqual(1000);
      }
    });

    it(`${broker}: a network failure becomes BrokerUnavailableError`, async () => {
      const test = await sandbox();
      await test.stop();
      const error = await failure(test.brokers.get(broker).issueToken(creds("real", "gone")));
      expect(error).toBeInstanceOf(BrokerUnavailableError);
      expect((error as BrokerUnavailableError).reason).toBe("network");
    });
  }

  it("draws faults from a seeded random, so the same seed fails the same calls", async () => {
    const outcomes: string[][] = [];
    for (let run = 0; run < 2; run += 1) {
      const test = await sandbox({ errorRate: 0.5, seed: 42 });
      const kis = test.brokers.get("KIS");
      const seen: string[] = [];
      for (let call = 0; call < 12; call += 1) {
        try {
          await kis.issueToken(creds("real", `seeded-${call}`));
          seen.push("ok");
        } catch (error) {
          seen.push((error as BrokerError).name);
        }
      }
      outcomes.push(seen);
    }
    expect(outcomes[0]).toEqual(outcomes[1]);
    expect(outcomes[0]).toContain("ok");
    expect(outcomes[0]?.some((outcome) => outcome !== "ok")).toBe(true);
  });

  it("lets exactly one of many simultaneous KIS issues for one app key through", async () => {
    const test = await sandbox();
    const kis = test.brokers.get("KIS");
    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, () => kis.issueToken(creds("real", "burst"))),
    );
    expect(outcomes.filter((outcome) => outcome.status === "fulfilled")).toHaveLength(1);
    const rejected = outcomes.flatMap((outcome) =>
      outcome.status === "rejected" ? [outcome.reason] : [],
    );
    expect(rejected.every((error) => error instanceof BrokerRateLimitedError)).toBe(true);
    expect(test.sandbox.stats().rejections.byCode.EGW00133).toBe(19);
  });

  it("counts issues in total, per app key and per environment, and rejections per code", async () => {
    const test = await sandbox();
    const kis = test.brokers.get("KIS");
    const kiwoom = test.brokers.get("KIWOOM");
    await kis.issueToken(creds("real", "s-1"));
    await kis.issueToken(creds("paper", "s-2"));
    await kiwoom.issueToken(creds("real", "s-3"));
    await failure(kis.issueToken(creds("real", "s-1")));
    await failure(kiwoom.issueToken(creds("real", "INVALID-s")));
    test.clock.advance(MINUTE);
    await kis.issueToken(creds("real", "s-1"));
    const stats = test.sandbox.stats();
    expect(stats.issued.total).toBe(4);
    expect(stats.issued.newTokens).toBe(3);
    expect(stats.issued.byAppKey).toEqual({ "s-1": 2, "s-2": 1, "s-3": 1 });
    expect(stats.issued.byEnvironment).toEqual({
      KIS: { real: 2, paper: 1 },
      KIWOOM: { real: 1, paper: 0 },
    });
    expect(stats.rejections).toEqual({ total: 2, byCode: { EGW00133: 1, "8001": 1 } });
  });
});

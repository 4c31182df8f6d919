import { describe, expect, it } from "vitest";
import {
  BROKER_ADAPTERS,
  BrokerCredentialsError,
  BrokerRateLimitedError,
  BrokerTokenRejectedError,
  BrokerUnavailableError,
  createBrokerRegistry,
  isTokenRejection,
  parseBrokerSettings,
} from "../../core/brokers";
import { ServiceError } from "../../core/errors";

describe("parseBrokerSettings", () => {
  it("defaults to the brokers' real hosts, a 10 s timeout and a minute between issues", () => {
    const settings = parseBrokerSettings({});
    expect(settings.brokers.KIS.baseUrls).toEqual({
      real: "https://openapi.koreainvestment.com:9443",
      paper: "https://openapivts.koreainvestment.com:29443",
    });
    expect(settings.brokers.KIWOOM.baseUrls).toEqual({
      real: "https://api.kiwoom.com",
      paper: "https://mockapi.kiwoom.com",
    });
    expect(settings.timeoutMs).toBe(10_000);
    expect(settings.brokers.KIS.minIssueIntervalMs).toBe(60_000);
    expect(settings.brokers.KIWOOM.minIssueIntervalMs).toBe(60_000);
  });

  it("takes each base URL from its own setting and drops a trailing slash", () => {
    const settings = parseBrokerSettings({
      KIS_REAL_URL: "http://127.0.0.1:8600/kis/real/",
      KIS_PAPER_URL: "http://127.0.0.1:8600/kis/paper",
      KIWOOM_REAL_URL: "http://127.0.0.1:8600/kiwoom/real",
      KIWOOM_PAPER_URL: "http://127.0.0.1:8600/kiwoom/paper",
      BROKER_TIMEOUT_MS: "2500",
      KIWOOM_MIN_ISSUE_INTERVAL_MS: "5000",
    });
    expect(settings.brokers.KIS.baseUrls.real).toBe("http://127.0.0.1:8600/kis/real");
    expect(settings.brokers.KIWOOM.baseUrls.paper).toBe("http://127.0.0.1:8600/kiwoom/paper");
    expect(settings.timeoutMs).toBe(2500);
    expect(settings.brokers.KIWOOM.minIssueIntervalMs).toBe(5000);
  });

  it("names the setting when a URL is not an http(s) URL", () => {
    expect(() => parseBrokerSettings({ KIWOOM_PAPER_URL: "mockapi.kiwoom.com" })).toThrow(
      /^KIWOOM_PAPER_URL /,
    );
    expect(() => parseBrokerSettings({ KIS_REAL_URL: "ftp://example.com" })).toThrow(
      /^KIS_REAL_URL /,
    );
  });

  it("refuses a plain http: broker URL off this machine, naming the setting", () => {
    for (const url of [
      "http://openapi.koreainvestment.com:9443",
      "http://10.0.0.5:8600",
      "http://127.example.com",
    ]) {
      expect(() => parseBrokerSettings({ KIWOOM_REAL_URL: url })).toThrow(
        "KIWOOM_REAL_URL must be an https: URL (plain http: is allowed only on loopback, for the sandbox).",
      );
    }
  });

  it("allows plain http: on loopback only (the sandbox)", () => {
    for (const host of ["127.0.0.1:8600", "localhost:8600", "[::1]:8600", "127.1.2.3"]) {
      const settings = parseBrokerSettings({ KIS_PAPER_URL: `http://${host}/kis` });
      expect(settings.brokers.KIS.baseUrls.paper).toBe(`http://${host}/kis`);
    }
  });

  it("refuses a timeout that is not a positive whole number", () => {
    for (const value of ["0", "-1", "1.5", "ten"]) {
      expect(() => parseBrokerSettings({ BROKER_TIMEOUT_MS: value })).toThrow(
        /^BROKER_TIMEOUT_MS /,
      );
    }
  });

  it("never lets the KIS issue interval drop below one minute", () => {
    expect(() => parseBrokerSettings({ KIS_MIN_ISSUE_INTERVAL_MS: "30000" })).toThrow(
      /^KIS_MIN_ISSUE_INTERVAL_MS .*60000/,
    );
    expect(
      parseBrokerSettings({ KIS_MIN_ISSUE_INTERVAL_MS: "90000" }).brokers.KIS.minIssueIntervalMs,
    ).toBe(90_000);
  });

  it("gives each client the issue interval of its broker", () => {
    const registry = createBrokerRegistry(
      parseBrokerSettings({ KIWOOM_MIN_ISSUE_INTERVAL_MS: "2000" }),
    );
    expect(registry.get("KIS").minIssueIntervalMs).toBe(60_000);
    expect(registry.get("KIWOOM").minIssueIntervalMs).toBe(2000);
    expect(registry.get("KIS").broker).toBe("KIS");
    expect(registry.get("KIWOOM").broker).toBe("KIWOOM");
  });
});

describe("broker errors", () => {
  it("are service errors with the kinds the API maps to statuses", () => {
    const details = { broker: "KIS" as const, brokerCode: "X" };
    const errors = [
      new BrokerRateLimitedError("m", { ...details, retryAfterMs: 60_000 }),
      new BrokerCredentialsError("m", { ...details, problem: "invalid" }),
      new BrokerTokenRejectedError("m", details),
      new BrokerUnavailableError("m", { ...details, reason: "timeout" }),
    ];
    expect(errors.every((error) => error instanceof ServiceError)).toBe(true);
    expect(errors.map((error) => error.kind)).toEqual([
      "rate_limited",
      "upstream_rejected",
      "upstream_rejected",
      "upstream_unavailable",
    ]);
    expect(errors.map((error) => error.name)).toEqual([
      "BrokerRateLimitedError",
      "BrokerCredentialsError",
      "BrokerTokenRejectedError",
      "BrokerUnavailableError",
    ]);
  });

  it("count as a token rejection only when the broker refused the token itself", () => {
    const kis = BROKER_ADAPTERS.KIS.interpretError;
    const kiwoom = BROKER_ADAPTERS.KIWOOM.interpretError;
    expect(
      isTokenRejection(
        kis({ status: 500, body: { rt_cd: "1", msg_cd: "EGW00123", msg1: "만료" } }),
      ),
    ).toBe(true);
    expect(
      isTokenRejection(kiwoom({ status: 200, body: { return_code: 3, return_msg: "[8005:x]" } })),
    ).toBe(true);
    expect(isTokenRejection(kis({ status: 403, body: { error_code: "EGW00133" } }))).toBe(false);
    expect(
      isTokenRejection(kiwoom({ status: 200, body: { return_code: 3, return_msg: "[8001:x]" } })),
    ).toBe(false);
    expect(isTokenRejection(new Error("EGW00121"))).toBe(false);
  });

  it("keep a broker's echo of a secret out of the message", () => {
    const error = BROKER_ADAPTERS.KIWOOM.interpretError(
      { status: 200, body: { return_code: 3, return_msg: "[8001:appkey sEcReTkEy-123 is wrong]" } },
      { secrets: ["sEcReTkEy-123"] },
    );
    expect(error?.message).not.toContain("sEcReTkEy-123");
    expect(error?.brokerMessage).toContain("[redacted]");
  });
});

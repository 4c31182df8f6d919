import { describe, expect, it } from "vitest";
import { parseBrokerSettings } from "../../core/brokers";
import { paperTrId } from "../../core/gateway";
import { brokerTarget, forwardedHeaders } from "../../core/gateway/request";

describe("broker paths", () => {
  it("accepts the brokers' REST paths with their query", () => {
    expect(
      brokerTarget("KIS", "/uapi/domestic-stock/v1/quotations/inquire-price?FID_INPUT_ISCD=005930"),
    ).toEqual({
      path: "/uapi/domestic-stock/v1/quotations/inquire-price",
      query: "FID_INPUT_ISCD=005930",
    });
    expect(brokerTarget("KIWOOM", "/api/dostk/stkinfo")).toEqual({
      path: "/api/dostk/stkinfo",
      query: "",
    });
  });

  it.each([
    ["KIS", "/oauth2/tokenP"],
    ["KIS", "/uapi/../oauth2/tokenP"],
    ["KIS", "/uapi/%2e%2e/oauth2/tokenP"],
    ["KIS", "/uapi/a%2fb"],
    ["KIS", "/uapi//a"],
    ["KIS", "/uapi/a\\b"],
    ["KIS", "/uapi/"],
    ["KIS", "/api/dostk/stkinfo"],
    ["KIWOOM", "/uapi/domestic-stock/v1/x"],
    ["KIWOOM", "/oauth2/token"],
    ["KIWOOM", "/api/dostk/stkinfo?a=%zz"],
    ["KIWOOM", "/api/dostk/stkinfo?a=b c"],
  ] as const)("refuses %s %s with a validation error naming the path or query", (broker, tail) => {
    expect(() => brokerTarget(broker, tail)).toThrow(/path|query/);
  });
});

describe("headers and tr_ids", () => {
  it("maps a real trading tr_id to its V twin on paper and leaves quotes alone", () => {
    expect(paperTrId("TTTC0012U")).toBe("VTTC0012U");
    expect(paperTrId("JTTT1002U")).toBe("VTTT1002U");
    expect(paperTrId("CTSC9115R")).toBe("VTSC9115R");
    expect(paperTrId("FHKST01010100")).toBe("FHKST01010100");
  });

  it("passes only the broker's allow-listed headers", () => {
    const caller: Record<string, string> = {
      tr_id: "TTTC0012U",
      tr_cont: "N",
      authorization: "Bearer caller-key",
      appkey: "someone-else",
      "api-id": "ka10001",
      "x-forwarded-for": "1.2.3.4",
    };
    expect(forwardedHeaders("KIS", "paper", (name) => caller[name])).toEqual({
      tr_id: "VTTC0012U",
      tr_cont: "N",
    });
    expect(forwardedHeaders("KIWOOM", "real", (name) => caller[name])).toEqual({
      "api-id": "ka10001",
    });
  });
});

describe("pacing settings (core/brokers settings)", () => {
  it("defaults to KIS 20/2 and Kiwoom 5/1 per second, 5 s wait, 50 ms jitter allowance", () => {
    const settings = parseBrokerSettings({});
    expect(settings.brokers.KIS.callsPerSecond).toEqual({ real: 20, paper: 2 });
    expect(settings.brokers.KIWOOM.callsPerSecond).toEqual({ real: 5, paper: 1 });
    expect(settings).toMatchObject({ callMaxWaitMs: 5000, callJitterMs: 50 });
  });

  it("reads every setting and names a bad one", () => {
    expect(
      parseBrokerSettings({ KIS_PAPER_CALLS_PER_SECOND: "4", BROKER_CALL_MAX_WAIT_MS: "100" }),
    ).toMatchObject({ brokers: { KIS: { callsPerSecond: { paper: 4 } } }, callMaxWaitMs: 100 });
    expect(() => parseBrokerSettings({ KIWOOM_REAL_CALLS_PER_SECOND: "0" })).toThrow(
      'KIWOOM_REAL_CALLS_PER_SECOND must be a whole number, at least 1, got "0".',
    );
    expect(() => parseBrokerSettings({ BROKER_CALL_JITTER_MS: "x" })).toThrow(
      'BROKER_CALL_JITTER_MS must be a whole number of milliseconds, at least 0, got "x".',
    );
  });
});

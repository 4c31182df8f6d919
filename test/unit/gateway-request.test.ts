import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { kisTransactionId, parseBrokerSettings } from "../../core/brokers";
import type { ValidationError } from "../../core/errors";
import {
  brokerTarget,
  callHeaders,
  forwardedHeaders,
  RETURNED_HEADERS,
  transactionId,
} from "../../core/gateway/request";

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

  it("accepts a path whose slashes come percent-encoded, as openapi-fetch sends it", () => {
    expect(
      brokerTarget(
        "KIS",
        "/uapi%2Fdomestic-stock%2fv1%2Fquotations%2Finquire-price?FID_INPUT_ISCD=1",
      ),
    ).toEqual({
      path: "/uapi/domestic-stock/v1/quotations/inquire-price",
      query: "FID_INPUT_ISCD=1",
    });
  });

  it("reads the query parameter broker_query[NAME] (openapi-fetch's deep object) as NAME", () => {
    expect(
      brokerTarget(
        "KIS",
        "/uapi/x/y?broker_query[FID_COND_MRKT_DIV_CODE]=J&broker_query%5BFID_INPUT_ISCD%5D=005930&A=1",
      ).query,
    ).toBe("FID_COND_MRKT_DIV_CODE=J&FID_INPUT_ISCD=005930&A=1");
  });

  it.each([
    ["KIS", "/oauth2/tokenP"],
    ["KIS", "/uapi/../oauth2/tokenP"],
    ["KIS", "/uapi/%2e%2e/oauth2/tokenP"],
    ["KIS", "/uapi%2f..%2foauth2/tokenP"],
    ["KIS", "/uapi/a%252fb"],
    ["KIS", "/uapi//a"],
    ["KIS", "/uapi%2F%2Fa"],
    ["KIS", "/uapi/a\\b"],
    ["KIS", "/uapi/"],
    ["KIS", "/uapi/x%3FA=1"],
    ["KIS", "/api/dostk/stkinfo"],
    ["KIWOOM", "/uapi/domestic-stock/v1/x"],
    ["KIWOOM", "/oauth2/token"],
    ["KIWOOM", "/api/dostk/stkinfo?a=%zz"],
    ["KIWOOM", "/api/dostk/stkinfo?a=b c"],
  ] as const)("refuses %s %s with a validation error naming the path or query", (broker, tail) => {
    expect(() => brokerTarget(broker, tail)).toThrow(/path|query/);
  });

  it("reads a path alike with plain or encoded slashes, and sends only what it checked", () => {
    const segment = fc.stringMatching(/^[\w-]{1,12}$/);
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 6 }), (segments) => {
        const plain = `/uapi/${segments.join("/")}`;
        const encoded = plain.replaceAll("/", "%2F");
        expect(brokerTarget("KIS", encoded)).toEqual(brokerTarget("KIS", plain));
      }),
    );
    // Whatever the tail, an accepted path is plain segments under the prefix.
    fc.assert(
      fc.property(fc.string({ unit: "binary-ascii", maxLength: 40 }), (tail) => {
        let path: string;
        try {
          path = brokerTarget("KIS", `/uapi/${tail}`).path;
        } catch {
          return;
        }
        expect(path).toMatch(/^\/uapi(\/[\w-]+)+$/);
      }),
    );
  });

  it("names the path it saw and what is wrong with it", () => {
    const refusal = (broker: "KIS" | "KIWOOM", tail: string) => {
      try {
        brokerTarget(broker, tail);
      } catch (error) {
        return (error as ValidationError).issues;
      }
      throw new Error(`${tail} was accepted`);
    };
    expect(refusal("KIS", "/oauth2%2FtokenP")).toEqual([
      {
        field: "path",
        message:
          '"/oauth2%2FtokenP" is not under /uapi/, where KIS\'s REST calls live (nothing else is forwarded)',
      },
    ]);
    expect(refusal("KIS", "/uapi/a/../b")[0]?.message).toBe(
      '"/uapi/a/../b" has a dot segment (. or ..)',
    );
    expect(
      refusal("KIS", "/uapi%2Fdomestic-stock%2Ftrading%2Finquire-balance%3FCANO%3D50123456")[0]
        ?.message,
    ).toBe(
      "\"/uapi%2Fdomestic-stock%2Ftrading%2Finquire-balance\" holds an encoded ? (%3F): the broker's query goes in the request's own query string (broker_query), not in the path",
    );
    expect(refusal("KIWOOM", "/api/dostk%2Fst%25kinfo")[0]?.message).toMatch(
      /^"\/api\/dostk%2Fst%25kinfo" has the segment "st%25kinfo": segments hold only letters/,
    );
  });
});

describe("headers and tr_ids", () => {
  const kis = (environment: "real" | "paper", caller: Record<string, string>) =>
    forwardedHeaders("KIS", environment, (name) => caller[name]);
  const refusal = (run: () => unknown) => {
    try {
      run();
    } catch (error) {
      const { code, issues } = error as ValidationError;
      return { code, issues };
    }
    throw new Error("accepted");
  };

  it("maps a real trading tr_id to its V twin on paper and leaves quotes alone", () => {
    expect(kisTransactionId("TTTC0012U", "paper")).toEqual({ id: "VTTC0012U" });
    expect(kisTransactionId("JTTT1002U", "paper")).toEqual({ id: "VTTT1002U" });
    expect(kisTransactionId("CTSC9115R", "paper")).toEqual({ id: "VTSC9115R" });
    expect(kisTransactionId("FHKST01010100", "paper")).toEqual({ id: "FHKST01010100" });
    expect(kisTransactionId("VTTC0012U", "paper")).toEqual({ id: "VTTC0012U" });
    expect(kisTransactionId("TTTC0012U", "real")).toEqual({ id: "TTTC0012U" });
  });

  it("maps the US sell order TTTT1006U (and the older JTTT1006U) to VTTT1001U on paper, not VTTT1006U", () => {
    expect(kisTransactionId("TTTT1006U", "paper")).toEqual({ id: "VTTT1001U" });
    expect(kisTransactionId("JTTT1006U", "paper")).toEqual({ id: "VTTT1001U" });
    expect(kisTransactionId("TTTT1002U", "paper")).toEqual({ id: "VTTT1002U" });
  });

  it.each([
    "TTTC8408R",
    "TTTC0084R",
    "TTTC0051U",
    "TTTC0052U",
    "CTSC0008U",
    "TTTS6036U",
    "TTTS3018R",
    "STTN1101U",
  ])("refuses %s on paper as not_available_on_paper, naming it", (id) => {
    expect(refusal(() => kis("paper", { tr_id: id }))).toEqual({
      code: "not_available_on_paper",
      issues: [
        {
          field: "tr_id",
          message: `${id} has no paper (모의투자) version at KIS and this account is KIS paper: call it on a real account`,
        },
      ],
    });
    expect(kis("real", { tr_id: id })).toEqual({ tr_id: id });
  });

  it("reads a lower-case tr_id as upper case, and maps it on paper", () => {
    expect(kis("paper", { tr_id: "tttc0012u" })).toEqual({ tr_id: "VTTC0012U" });
    expect(kis("real", { tr_id: "fhkst01010100" })).toEqual({ tr_id: "FHKST01010100" });
  });

  it("refuses a KIS call without tr_id and a Kiwoom call without api-id, naming the header and the environment", () => {
    expect(refusal(() => kis("real", { tr_cont: "N" }))).toEqual({
      code: "validation_failed",
      issues: [
        {
          field: "tr_id",
          message: "is required: it names the KIS transaction to call (this account is KIS real)",
        },
      ],
    });
    expect(refusal(() => forwardedHeaders("KIWOOM", "paper", () => undefined))).toEqual({
      code: "validation_failed",
      issues: [
        {
          field: "api-id",
          message:
            "is required: it names the Kiwoom transaction to call (this account is Kiwoom paper)",
        },
      ],
    });
  });

  it("refuses a paper V tr_id on a real account, naming the header and the environment", () => {
    const { issues } = refusal(() => kis("real", { tr_id: "vttc0012u" }));
    expect(issues).toEqual([
      {
        field: "tr_id",
        message:
          "VTTC0012U is a paper (모의투자) tr_id and this account is KIS real: send the real id (the service maps it to paper for paper accounts)",
      },
    ]);
  });

  it("refuses a forwarded header sent twice (joined with a comma) or holding a control character", () => {
    expect(refusal(() => kis("real", { tr_id: "FHKST01010100, TTTC0012U" })).issues).toEqual([
      {
        field: "tr_id",
        message:
          "was sent more than once (or holds a comma): send it once (this account is KIS real)",
      },
    ]);
    expect(
      refusal(() => kis("paper", { tr_id: "FHKST01010100", custtype: "P\tB" })).issues,
    ).toEqual([
      {
        field: "custtype",
        message:
          "holds a control or non-ASCII character (a tab, a line break…): send plain text (this account is KIS paper)",
      },
    ]);
    expect(
      refusal(() =>
        forwardedHeaders("KIWOOM", "real", (name) =>
          name === "api-id" ? "ka10001\u0000" : undefined,
        ),
      ).issues[0]?.field,
    ).toBe("api-id");
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

  it("adds each broker's auth headers from its adapter: KIS app key, secret and custtype P unless the caller's", () => {
    const credentials = { appKey: "PSkey", appSecret: "secret" };
    expect(callHeaders("KIS", { tr_id: "FHKST01010100" }, credentials)).toEqual({
      custtype: "P",
      tr_id: "FHKST01010100",
      appkey: "PSkey",
      appsecret: "secret",
    });
    expect(callHeaders("KIS", { custtype: "B", appkey: "x" }, credentials)).toMatchObject({
      custtype: "B",
      appkey: "PSkey",
    });
    expect(callHeaders("KIWOOM", { "api-id": "ka10001" }, credentials)).toEqual({
      "api-id": "ka10001",
    });
  });

  it("returns each broker's transaction and paging headers and names the call's transaction", () => {
    expect(RETURNED_HEADERS).toEqual(
      expect.arrayContaining(["content-type", "tr_id", "tr_cont", "api-id", "cont-yn", "next-key"]),
    );
    expect(transactionId({ tr_id: "VTTC0012U" })).toBe("VTTC0012U");
    expect(transactionId({ "api-id": "ka10001" })).toBe("ka10001");
    expect(transactionId({})).toBeNull();
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

import { createCipheriv } from "node:crypto";
import { describe, expect, test } from "vitest";
import {
  KIS_NOTICE_FIELDS,
  KIS_TRADE_FIELDS,
  kisNoticeFill,
  kisNoticeOrder,
  kisStream,
} from "../../core/brokers/kis-stream";
import {
  kiwoomNoticeFill,
  kiwoomNoticeOrder,
  kiwoomStream,
} from "../../core/brokers/kiwoom-stream";
import { parseClientMessage } from "../../core/stream";

const NOW = new Date("2026-12-04T01:00:00Z");
const cipher = { key: "k".repeat(32), iv: "i".repeat(16) };
const encrypt = (text: string) => {
  const c = createCipheriv("aes-256-cbc", Buffer.from(cipher.key), Buffer.from(cipher.iv));
  return Buffer.concat([c.update(text, "utf8"), c.final()]).toString("base64");
};
const trade = (symbol: string) =>
  KIS_TRADE_FIELDS.map((name) =>
    name === "MKSC_SHRN_ISCD"
      ? symbol
      : name === "STCK_CNTG_HOUR"
        ? "093001"
        : name === "BSOP_DATE"
          ? "20261204"
          : "1",
  );

describe("KIS frames", () => {
  test("a frame of two trade records gives two events, each named by position, time read as Korea time", () => {
    const text = `0|H0STCNT0|002|${[...trade("005930"), ...trade("000660")].join("^")}`;
    const message = kisStream.read(text, new Map(), NOW);
    expect(message.type).toBe("records");
    if (message.type !== "records") return;
    expect(message.records.map((r) => r.symbol)).toEqual(["005930", "000660"]);
    expect(message.records[0]?.at.toISOString()).toBe("2026-12-04T00:30:01.000Z");
  });

  test("a plaintext execution notice is dropped, never parsed", () => {
    const plain = KIS_NOTICE_FIELDS.map(() => "1").join("^");
    expect(
      kisStream.read(`0|H0STCNI0|001|${plain}`, new Map([["H0STCNI0", cipher]]), NOW),
    ).toMatchObject({
      type: "ignored",
      why: expect.stringContaining("plaintext"),
    });
  });

  test("an encrypted notice decrypts with its ack's key and iv, the account number routed", () => {
    const values = KIS_NOTICE_FIELDS.map((name) =>
      name === "ACNT_NO" ? "5012345601" : name === "STCK_SHRN_ISCD" ? "005930" : "x",
    );
    const message = kisStream.read(
      `1|H0STCNI0|001|${encrypt(values.join("^"))}`,
      new Map([["H0STCNI0", cipher]]),
      NOW,
    );
    expect(message).toMatchObject({
      type: "records",
      records: [{ kind: "notice", accountNumber: "5012345601", symbol: "005930" }],
    });
  });

  test("PINGPONG is echoed as it came, and OPSP8996 reads as a kick", () => {
    const ping = '{"header":{"tr_id":"PINGPONG","datetime":"20261204093000"}}';
    expect(kisStream.read(ping, new Map(), NOW)).toEqual({ type: "ping", echo: ping });
    const refused =
      '{"header":{"tr_id":"H0STCNT0","tr_key":"005930"},"body":{"rt_cd":"1","msg_cd":"OPSP8996","msg1":"ALREADY IN USE appkey"}}';
    expect(kisStream.read(refused, new Map(), NOW)).toMatchObject({
      type: "kicked",
      code: "OPSP8996",
    });
  });

  test("OPSP0002 ALREADY IN SUBSCRIBE is not an error", () => {
    const ack =
      '{"header":{"tr_id":"H0STCNT0","tr_key":"005930"},"body":{"rt_cd":"1","msg_cd":"OPSP0002","msg1":"ALREADY IN SUBSCRIBE"}}';
    expect(kisStream.read(ack, new Map(), NOW)).toMatchObject({ type: "ack", ok: true });
  });
});

describe("Kiwoom frames", () => {
  test("a REAL 00 names its FIDs, strips the A of the code and keeps unknown FIDs by number", () => {
    const text = JSON.stringify({
      trnm: "REAL",
      data: [
        {
          type: "00",
          item: "",
          values: { "9201": "5012345678", "9001": "A005930", "911": "3", "77777": "new" },
        },
      ],
    });
    expect(kiwoomStream.read(text, new Map(), NOW)).toMatchObject({
      type: "records",
      records: [
        {
          kind: "notice",
          symbol: "005930",
          accountNumber: "5012345678",
          fields: { fill_quantity: "3", "77777": "new" },
        },
      ],
    });
  });

  test("a LOGIN refusal reads its code from inside the message", () => {
    const text = JSON.stringify({
      trnm: "LOGIN",
      return_code: 3,
      return_msg: "인증에 실패했습니다[8005:Token이 유효하지 않습니다]",
    });
    expect(kiwoomStream.read(text, new Map(), NOW)).toMatchObject({
      type: "login",
      ok: false,
      code: "8005",
    });
    expect(kiwoomStream.isCredentialRefusal("8005")).toBe(true);
  });

  test("R10001 reads as a kick", () => {
    expect(
      kiwoomStream.read('{"trnm":"SYSTEM","code":"R10001","message":"…"}', new Map(), NOW),
    ).toMatchObject({ type: "kicked" });
  });
});

describe("notices as day-order rows (what binds the gateway's unknown orders)", () => {
  const kisFill = {
    ODER_NO: "0000012345",
    SELN_BYOV_CLS: "02",
    RCTF_CLS: "0",
    STCK_SHRN_ISCD: "005930",
    CNTG_QTY: "1",
    CNTG_UNPR: "70100",
    STCK_CNTG_HOUR: "100001",
    RFUS_YN: "0",
    CNTG_YN: "2",
    ODER_QTY: "2",
    ODER_PRC: "70000",
  };

  test("a KIS fill reads as its order's row: the order's quantity and price, not the fill's", () => {
    expect(kisNoticeOrder(kisFill)).toEqual({
      orderNo: "0000012345",
      symbol: "005930",
      side: "buy",
      quantity: "2",
      price: "70000",
      time: "100001",
    });
  });

  test("a KIS change, cancel or refusal notice gives no row", () => {
    expect(kisNoticeOrder({ ...kisFill, RCTF_CLS: "1" })).toBeUndefined();
    expect(kisNoticeOrder({ ...kisFill, RCTF_CLS: "2" })).toBeUndefined();
    expect(kisNoticeOrder({ ...kisFill, RFUS_YN: "1" })).toBeUndefined();
  });

  test("a decrypted KIS notice record carries its order row", () => {
    const values = KIS_NOTICE_FIELDS.map((name) => kisFill[name as keyof typeof kisFill] ?? "");
    const message = kisStream.read(
      `1|H0STCNI0|001|${encrypt(values.join("^"))}`,
      new Map([["H0STCNI0", cipher]]),
      NOW,
    );
    expect(message).toMatchObject({
      type: "records",
      records: [
        {
          order: { orderNo: "0000012345", quantity: "2" },
          fill: { orderNo: "0000012345", quantity: 1 },
        },
      ],
    });
  });

  test("a Kiwoom 00 reads as its order's row; a cancel (취소) gives none", () => {
    const fields = {
      order_number: "0012345",
      symbol: "A005930",
      side: "1",
      order_quantity: "3",
      order_price: "70000",
      time: "100001",
      order_status: "접수",
    };
    expect(kiwoomNoticeOrder(fields)).toEqual({
      orderNo: "0012345",
      symbol: "005930",
      side: "sell",
      quantity: "3",
      price: "70000",
      time: "100001",
    });
    expect(kiwoomNoticeOrder({ ...fields, order_kind: "매도취소" })).toBeUndefined();
  });
});

describe("notices as fills (what a catch-up from the day orders is checked against)", () => {
  const kis = { ODER_NO: "0000012345", CNTG_YN: "2", CNTG_QTY: "3", RFUS_YN: "0" };

  test("a KIS fill notice gives its fill, with no running total (KIS sends none)", () => {
    expect(kisNoticeFill(kis)).toEqual({ orderNo: "0000012345", quantity: 3 });
  });

  test("a KIS acceptance (CNTG_YN 1), a refusal or a fill of nothing gives no fill", () => {
    expect(kisNoticeFill({ ...kis, CNTG_YN: "1" })).toBeUndefined();
    expect(kisNoticeFill({ ...kis, RFUS_YN: "1" })).toBeUndefined();
    expect(kisNoticeFill({ ...kis, CNTG_QTY: "0" })).toBeUndefined();
    expect(kisNoticeFill({ ...kis, CNTG_QTY: "" })).toBeUndefined();
  });

  test("a Kiwoom 00 fill gives its fill and the order's total: order quantity less what is unfilled", () => {
    const fields = {
      order_number: "0012345",
      order_quantity: "10",
      unfilled_quantity: "4",
      fill_quantity: "+2",
    };
    expect(kiwoomNoticeFill(fields)).toEqual({ orderNo: "0012345", quantity: 2, total: 6 });
    expect(kiwoomNoticeFill({ ...fields, unfilled_quantity: "" })).toEqual({
      orderNo: "0012345",
      quantity: 2,
    });
  });

  test("a Kiwoom acceptance (no fill quantity) gives no fill", () => {
    expect(kiwoomNoticeFill({ order_number: "0012345", fill_quantity: "" })).toBeUndefined();
  });
});

describe("client messages", () => {
  test("since on market data is refused, naming why", () => {
    expect(() =>
      parseClientMessage(
        '{"op":"subscribe","account_id":1,"kind":"trade","symbol":"005930","since":3}',
      ),
    ).toThrow(/not stored/);
  });

  test("a symbol on notices is refused", () => {
    expect(() =>
      parseClientMessage('{"op":"subscribe","account_id":1,"kind":"notice","symbol":"005930"}'),
    ).toThrow(/symbol is not taken/);
  });
});

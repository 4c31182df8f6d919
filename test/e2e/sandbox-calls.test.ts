import { randomBytes } from "node:crypto";
import http from "node:http";
import { beforeEach, describe, expect, it } from "vitest";
import { useBrokerSandbox } from "../support/sandbox";

const current = useBrokerSandbox();

const PRICE =
  "/uapi/domestic-stock/v1/quotations/inquire-price?FID_COND_MRKT_DIV_CODE=J&FID_INPUT_ISCD=005930";
const ORDER = "/uapi/domestic-stock/v1/trading/order-cash";
const ORDER_BODY = {
  CANO: "12345678",
  ACNT_PRDT_CD: "01",
  PDNO: "005930",
  ORD_DVSN: "00",
  ORD_QTY: "1",
  ORD_UNPR: "70000",
};

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/** One HTTP exchange from a chosen client address (127.0.0.2 is "another IP" on loopback). */
function send(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: unknown; from?: string },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const request = http.request(
      url,
      {
        method: options.method ?? (payload ? "POST" : "GET"),
        headers: { "content-type": "application/json;charset=UTF-8", ...options.headers },
        ...(options.from ? { localAddress: options.from } : {}),
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>,
          }),
        );
      },
    );
    request.on("error", reject);
    request.end(payload);
  });
}

function appKey(prefix: string) {
  return `${prefix}${randomBytes(8).toString("hex")}`;
}

async function kisToken(environment: "real" | "paper", key: string) {
  const { sandbox } = current();
  const answer = await send(`${sandbox.baseUrls.KIS[environment]}/oauth2/tokenP`, {
    body: { grant_type: "client_credentials", appkey: key, appsecret: "secret" },
  });
  return answer.body.access_token as string;
}

async function kiwoomToken(environment: "real" | "paper", key: string, from?: string) {
  const { sandbox } = current();
  const answer = await send(`${sandbox.baseUrls.KIWOOM[environment]}/oauth2/token`, {
    headers: { "api-id": "au10001" },
    body: { grant_type: "client_credentials", appkey: key, secretkey: "secret" },
    ...(from ? { from } : {}),
  });
  return answer.body.token as string;
}

function kisHeaders(token: string, key: string, trId: string) {
  return { authorization: `Bearer ${token}`, appkey: key, appsecret: "secret", tr_id: trId };
}

function kiwoomCall(
  environment: "real" | "paper",
  path: string,
  token: string,
  apiId: string,
  body: unknown,
  from?: string,
) {
  const { sandbox } = current();
  return send(`${sandbox.baseUrls.KIWOOM[environment]}${path}`, {
    headers: { authorization: `Bearer ${token}`, "api-id": apiId },
    body,
    ...(from ? { from } : {}),
  });
}

beforeEach(() => {
  const { sandbox } = current();
  sandbox.resetStats();
  sandbox.configure({
    callsPerSecond: { KIS: { real: 20, paper: 2 }, KIWOOM: { real: 5, paper: 1 } },
  });
});

describe("KIS calls in the sandbox", () => {
  it("answers a quote with output, its tr_id and paging header", async () => {
    const key = appKey("PSq");
    const token = await kisToken("real", key);
    const answer = await send(`${current().sandbox.baseUrls.KIS.real}${PRICE}`, {
      headers: kisHeaders(token, key, "FHKST01010100"),
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ rt_cd: "0", output: { stck_shrn_iscd: "005930" } });
    expect(answer.headers.tr_id).toBe("FHKST01010100");
    expect(answer.headers.tr_cont).toBe("D");
  });

  it("takes a paper order under the V tr_id and refuses the real tr_id with EGW00213", async () => {
    const key = appKey("PSo");
    const token = await kisToken("paper", key);
    const url = `${current().sandbox.baseUrls.KIS.paper}${ORDER}`;
    const paper = await send(url, {
      headers: kisHeaders(token, key, "VTTC0012U"),
      body: ORDER_BODY,
    });
    expect(paper.body).toMatchObject({ rt_cd: "0", msg_cd: "APBK0013" });
    await new Promise((resolve) => setTimeout(resolve, 1000)); // paper allows 2 calls a second
    const real = await send(url, {
      headers: kisHeaders(token, key, "TTTC0012U"),
      body: ORDER_BODY,
    });
    expect(real.status).toBe(500);
    expect(real.body).toMatchObject({ rt_cd: "1", msg_cd: "EGW00213" });
  });

  it("answers unknown, revoked and other-environment tokens with KIS's codes", async () => {
    const { sandbox } = current();
    const key = appKey("PSt");
    const token = await kisToken("real", key);
    const unknown = await send(`${sandbox.baseUrls.KIS.real}${PRICE}`, {
      headers: kisHeaders("not-a-token", key, "FHKST01010100"),
    });
    expect(unknown.body).toMatchObject({ rt_cd: "1", msg_cd: "EGW00121" });
    const otherHost = await send(`${sandbox.baseUrls.KIS.paper}${PRICE}`, {
      headers: kisHeaders(token, key, "FHKST01010100"),
    });
    expect(otherHost.body).toMatchObject({ msg_cd: "EGW00123" });
    sandbox.revokeAll({ appKey: key });
    const revoked = await send(`${sandbox.baseUrls.KIS.real}${PRICE}`, {
      headers: kisHeaders(token, key, "FHKST01010100"),
    });
    expect(revoked.body).toMatchObject({ msg_cd: "EGW00121" });
  });

  it("refuses the call over the app key's per-second limit with EGW00201 and counts it", async () => {
    const { sandbox } = current();
    const key = appKey("PSr");
    const token = await kisToken("paper", key);
    const answers = await Promise.all(
      Array.from({ length: 5 }, () =>
        send(`${sandbox.baseUrls.KIS.paper}${PRICE}`, {
          headers: kisHeaders(token, key, "FHKST01010100"),
        }),
      ),
    );
    const codes = answers.map((answer) => answer.body.msg_cd).sort();
    expect(codes).toEqual(["EGW00201", "EGW00201", "EGW00201", "MCA00000", "MCA00000"]);
    const stats = sandbox.stats();
    expect(stats.calls.byCode).toEqual({ MCA00000: 2, EGW00201: 3 });
    expect(stats.calls.byEndpoint).toEqual({
      "KIS paper GET /uapi/domestic-stock/v1/quotations/inquire-price": 5,
    });
    expect(stats.rejections.byCode.EGW00201).toBe(3);
  });
});

describe("Kiwoom calls in the sandbox", () => {
  it("answers ka10001 and kt10000 with the paging headers", async () => {
    const key = appKey("KWc");
    const token = await kiwoomToken("real", key);
    const info = await kiwoomCall("real", "/api/dostk/stkinfo", token, "ka10001", {
      stk_cd: "005930",
    });
    expect(info.body).toMatchObject({ return_code: 0, stk_cd: "005930" });
    expect(info.headers).toMatchObject({ "api-id": "ka10001", "cont-yn": "N" });
    const order = await kiwoomCall("real", "/api/dostk/ordr", token, "kt10000", {
      dmst_stex_tp: "KRX",
      stk_cd: "005930",
      ord_qty: "1",
      trde_tp: "3",
    });
    expect(order.body).toMatchObject({ return_code: 0, dmst_stex_tp: "KRX" });
    const wrongId = await kiwoomCall("real", "/api/dostk/ordr", token, "ka10001", {});
    expect(wrongId.body.return_msg).toContain("[1504:");
  });

  it("refuses a token used from another address than the one that issued it with 8010", async () => {
    const key = appKey("KWi");
    const token = await kiwoomToken("real", key, "127.0.0.1");
    const elsewhere = await kiwoomCall(
      "real",
      "/api/dostk/stkinfo",
      token,
      "ka10001",
      { stk_cd: "005930" },
      "127.0.0.2",
    );
    expect(elsewhere.body.return_msg).toContain("[8010:");
    const home = await kiwoomCall(
      "real",
      "/api/dostk/stkinfo",
      token,
      "ka10001",
      { stk_cd: "005930" },
      "127.0.0.1",
    );
    expect(home.body.return_code).toBe(0);
    expect(current().sandbox.stats().calls.byCode).toEqual({ "0": 1, "8010": 1 });
  });

  it("answers unknown and revoked tokens with 8005, and a burst over the limit with HTTP 429 [1700:", async () => {
    const { sandbox } = current();
    const key = appKey("KWr");
    const token = await kiwoomToken("paper", key);
    const unknown = await kiwoomCall("paper", "/api/dostk/stkinfo", "nope", "ka10001", {});
    expect(unknown.body.return_msg).toContain("[8005:");
    const burst = await Promise.all(
      Array.from({ length: 3 }, () =>
        kiwoomCall("paper", "/api/dostk/stkinfo", token, "ka10001", { stk_cd: "005930" }),
      ),
    );
    expect(burst.map((answer) => answer.status).sort()).toEqual([200, 429, 429]);
    const limited = burst.find((answer) => answer.status === 429);
    expect(limited?.body).toMatchObject({ return_code: 5 });
    expect(String(limited?.body.return_msg)).toContain("[1700:");
    sandbox.revokeAll({ appKey: key });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const revoked = await kiwoomCall("paper", "/api/dostk/stkinfo", token, "ka10001", {});
    expect(revoked.body.return_msg).toContain("[8005:");
  });
});

/**
 * What the gateway refuses before a broker would answer it confusingly, and
 * how it reads paths and transaction ids, over HTTP against the sandbox:
 * missing or wrong-environment transaction ids, ids with no paper version,
 * repeated headers and control characters are 400s taken before any call
 * slot; lower-case and exceptional paper tr_ids are mapped; a broker path's
 * slashes may come percent-encoded.
 */
import { randomBytes } from "node:crypto";
import http from "node:http";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createBrokerAccount } from "../support/accounts";
import { startTestServer, type TestServer } from "../support/server";

const PRICE = "uapi/domestic-stock/v1/quotations/inquire-price";
const ORDER = "uapi/domestic-stock/v1/trading/order-cash";
const ORDER_BODY = {
  CANO: "50123456",
  ACNT_PRDT_CD: "01",
  PDNO: "005930",
  ORD_DVSN: "00",
  ORD_QTY: "1",
  ORD_UNPR: "70000",
};

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ env: { KIWOOM_MIN_ISSUE_INTERVAL_MS: "1000" } });
});
afterAll(async () => {
  await server?.stop();
});

async function create(broker: "KIS" | "KIWOOM", environment: "real" | "paper"): Promise<number> {
  return (await createBrokerAccount(server, broker, { environment })).id;
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/**
 * A gateway call written with node:http, so that a header can be sent twice
 * or carry a tab exactly as given (fetch's Headers would join or refuse them).
 */
function call(
  id: number,
  path: string,
  headers: http.OutgoingHttpHeaders,
  body?: unknown,
): Promise<Answer> {
  const url = new URL(server.url);
  const text = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: url.hostname,
        port: url.port,
        method: text === undefined ? "GET" : "POST",
        path: `/accounts/${id}/broker/${path}`,
        headers: {
          authorization: `Bearer ${server.adminKey}`,
          ...(text === undefined ? {} : { "content-type": "application/json" }),
          ...headers,
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: JSON.parse(Buffer.concat(chunks).toString("utf8")),
          }),
        );
        response.on("error", reject);
      },
    );
    request.on("error", reject);
    request.end(text);
  });
}

/** What the broker and the pacing saw so far: sandbox requests and pacing rows. */
async function footprint() {
  const [row] = await server.db.sql<{ count: number }[]>`
    SELECT count(*)::int AS count FROM broker_call_pacing`;
  return { requests: server.sandbox.sandbox.stats().requests, pacingRows: row?.count };
}

async function auditedTransaction(id: number): Promise<unknown> {
  await server.runtime.gateway.settled();
  const [row] = await server.db.sql<{ transaction_id: string }[]>`
    SELECT transaction_id FROM broker_calls WHERE account_id = ${id} ORDER BY id DESC LIMIT 1`;
  return row?.transaction_id;
}

describe("refused before any slot is taken, naming the header and the account's environment", () => {
  test("a KIS call without tr_id is a 400 naming tr_id and the real environment, and nothing is sent", async () => {
    const id = await create("KIS", "real");
    const before = await footprint();
    const answer = await call(id, `${PRICE}?FID_COND_MRKT_DIV_CODE=J&FID_INPUT_ISCD=005930`, {});
    expect(answer.status).toBe(400);
    expect(answer.headers["x-answered-by"]).toBe("service");
    expect(answer.body).toMatchObject({
      code: "validation_failed",
      errors: [
        {
          field: "tr_id",
          message: "is required: it names the KIS transaction to call (this account is KIS real)",
        },
      ],
    });
    expect(await footprint()).toEqual(before);
  });

  test("a paper V tr_id on a real KIS account is a 400 naming tr_id and the real environment, and nothing is sent", async () => {
    const id = await create("KIS", "real");
    const before = await footprint();
    const answer = await call(id, ORDER, { tr_id: "VTTC0012U" }, ORDER_BODY);
    expect(answer.status).toBe(400);
    expect(answer.body.errors).toEqual([
      {
        field: "tr_id",
        message: expect.stringMatching(/^VTTC0012U is a paper .* this account is KIS real/),
      },
    ]);
    expect(await footprint()).toEqual(before);
  });

  test("a Kiwoom call without api-id is a 400 naming api-id and the paper environment, and nothing is sent", async () => {
    const id = await create("KIWOOM", "paper");
    const before = await footprint();
    const answer = await call(id, "api/dostk/stkinfo", {}, { stk_cd: "005930" });
    expect(answer.status).toBe(400);
    expect(answer.body.errors).toEqual([
      {
        field: "api-id",
        message:
          "is required: it names the Kiwoom transaction to call (this account is Kiwoom paper)",
      },
    ]);
    expect(await footprint()).toEqual(before);
  });

  test("a real tr_id with no paper version (TTTC8408R) on a paper account is a 400 not_available_on_paper naming it, and nothing is sent", async () => {
    const id = await create("KIS", "paper");
    const before = await footprint();
    const answer = await call(id, "uapi/domestic-stock/v1/trading/inquire-psbl-sell", {
      tr_id: "TTTC8408R",
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({
      code: "not_available_on_paper",
      errors: [{ field: "tr_id", message: expect.stringContaining("TTTC8408R has no paper") }],
    });
    expect(await footprint()).toEqual(before);
  });

  test("two tr_id headers are a 400, not joined with a comma and forwarded", async () => {
    const id = await create("KIS", "real");
    const before = await footprint();
    const answer = await call(id, PRICE, { tr_id: ["FHKST01010100", "FHKST01010100"] });
    expect(answer.status).toBe(400);
    expect(answer.body.errors).toEqual([
      {
        field: "tr_id",
        message: expect.stringContaining("was sent more than once"),
      },
    ]);
    expect(await footprint()).toEqual(before);
  });

  test("a tab inside custtype is a 400 naming custtype, not forwarded as is", async () => {
    const id = await create("KIS", "paper");
    const before = await footprint();
    const answer = await call(id, PRICE, { tr_id: "FHKST01010100", custtype: "P\tB" });
    expect(answer.status).toBe(400);
    expect(answer.body.errors).toEqual([
      {
        field: "custtype",
        message: expect.stringContaining("holds a control or non-ASCII character"),
      },
    ]);
    expect(await footprint()).toEqual(before);
  });
});

describe("transaction ids and paths as the gateway reads them", () => {
  test("a lower-case paper tr_id (tttc0012u) goes out as VTTC0012U and the paper order succeeds", async () => {
    const id = await create("KIS", "paper");
    const answer = await call(
      id,
      ORDER,
      { tr_id: "tttc0012u", "idempotency-key": `lower-${randomBytes(4).toString("hex")}` },
      ORDER_BODY,
    );
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ rt_cd: "0", msg_cd: "APBK0013" });
    expect(answer.headers.tr_id).toBe("VTTC0012U");
    expect(await auditedTransaction(id)).toBe("VTTC0012U");
  });

  test("a paper US sell order TTTT1006U goes out as VTTT1001U, not VTTT1006U", async () => {
    const id = await create("KIS", "paper");
    // The audit shows what was sent, whatever the sandbox makes of it.
    const answer = await call(
      id,
      "uapi/overseas-stock/v1/trading/order",
      { tr_id: "TTTT1006U", "idempotency-key": `us-sell-${randomBytes(4).toString("hex")}` },
      {},
    );
    expect(answer.headers["x-answered-by"]).toBe("broker");
    expect(await auditedTransaction(id)).toBe("VTTT1001U");
  });

  test("a broker path whose slashes come as %2F reaches the broker, its query with it", async () => {
    const id = await create("KIS", "real");
    const answer = await call(
      id,
      "uapi%2Fdomestic-stock%2Fv1%2Fquotations%2Finquire-price?FID_COND_MRKT_DIV_CODE=J&FID_INPUT_ISCD=000660",
      { tr_id: "FHKST01010100" },
    );
    expect(answer.status).toBe(200);
    expect(answer.headers["x-answered-by"]).toBe("broker");
    expect(answer.body).toMatchObject({ rt_cd: "0", output: { stck_shrn_iscd: "000660" } });
  });

  test("a refused path is named as it came, with what is wrong with it", async () => {
    const id = await create("KIS", "real");
    const answer = await call(id, "uapi%2Fdomestic-stock%2F%2Fquotations", {
      tr_id: "FHKST01010100",
    });
    expect(answer.status).toBe(400);
    expect(answer.body.errors).toEqual([
      {
        field: "path",
        message: '"/uapi%2Fdomestic-stock%2F%2Fquotations" has an empty segment (// or a final /)',
      },
    ]);
  });
});

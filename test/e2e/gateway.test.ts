import { randomBytes } from "node:crypto";
import http from "node:http";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startTestServer, type TestServer } from "../support/server";

const PRICE =
  "uapi/domestic-stock/v1/quotations/inquire-price?FID_COND_MRKT_DIV_CODE=J&FID_INPUT_ISCD=005930";
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
/** Every gateway answer, headers and body, to search for tokens at the end. */
const answers: string[] = [];

function account(broker: "KIS" | "KIWOOM", environment: "real" | "paper") {
  const tag = randomBytes(8).toString("hex");
  return {
    name: `${broker} ${environment} ${tag}`,
    account_type: "SECURITIES_STOCK",
    exchange: broker,
    environment,
    api_key: `${broker === "KIS" ? "PS" : "kw"}${tag}`,
    api_secret: `secret-${tag}`,
    securities_config:
      broker === "KIS"
        ? { account_number: "50123456", product_code: "01", market_type: "DOMESTIC_STOCK" }
        : { account_number: "5012345678", market_type: "DOMESTIC_STOCK" },
  };
}

async function create(on: TestServer, broker: "KIS" | "KIWOOM", environment: "real" | "paper") {
  const body = account(broker, environment);
  const response = await on.call("/accounts", { method: "POST", body: JSON.stringify(body) });
  expect(response.status).toBe(201);
  return { id: ((await response.json()) as { id: number }).id, appKey: body.api_key };
}

async function gateway(
  on: TestServer,
  id: number,
  path: string,
  init: { headers?: Record<string, string>; body?: unknown; key?: string | null } = {},
) {
  const response = await on.call(`/accounts/${id}/broker/${path}`, {
    method: init.body === undefined ? "GET" : "POST",
    headers: init.headers ?? {},
    ...(init.body === undefined
      ? {}
      : { body: typeof init.body === "string" ? init.body : JSON.stringify(init.body) }),
    ...(init.key !== undefined ? { key: init.key } : {}),
  });
  const text = await response.text();
  answers.push(JSON.stringify([...response.headers]), text);
  return { status: response.status, headers: response.headers, body: JSON.parse(text) };
}

function kiwoomInfo(on: TestServer, id: number, key?: string) {
  return gateway(on, id, "api/dostk/stkinfo", {
    headers: { "api-id": "ka10001" },
    body: { stk_cd: "005930" },
    ...(key ? { key } : {}),
  });
}

beforeAll(async () => {
  server = await startTestServer({
    keys: { trader: ["broker:call"], reader: ["tokens:read"] },
    env: { KIWOOM_MIN_ISSUE_INTERVAL_MS: "1000" },
  });
});

afterAll(async () => {
  await server?.stop();
});

describe("the broker gateway, over HTTP against the sandbox", () => {
  test("a KIS quote succeeds with the broker's body and paging header", async () => {
    const { id } = await create(server, "KIS", "real");
    const answer = await gateway(server, id, PRICE, {
      headers: { tr_id: "FHKST01010100" },
      key: server.keys.trader as string,
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ rt_cd: "0", output: { stck_shrn_iscd: "005930" } });
    expect(answer.headers.get("tr_cont")).toBe("D");
    expect(answer.headers.get("tr_id")).toBe("FHKST01010100");
  });

  test("a paper KIS order sent with TTTC0012U goes out as VTTC0012U and succeeds", async () => {
    const { id } = await create(server, "KIS", "paper");
    const answer = await gateway(server, id, ORDER, {
      headers: { tr_id: "TTTC0012U", "idempotency-key": "paper-1" },
      body: ORDER_BODY,
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ rt_cd: "0", msg_cd: "APBK0013" });
    expect(answer.headers.get("tr_id")).toBe("VTTC0012U");
  });

  test("a Kiwoom ka10001 call succeeds, while its token used straight from 127.0.0.2 draws 8010", async () => {
    const { id } = await create(server, "KIWOOM", "real");
    const through = await kiwoomInfo(server, id);
    expect(through.status).toBe(200);
    expect(through.body).toMatchObject({ return_code: 0, stk_cd: "005930" });
    expect(through.headers.get("api-id")).toBe("ka10001");
    expect(through.headers.get("cont-yn")).toBe("N");

    const { accessToken } = await server.runtime.tokens.getValidToken(id);
    const direct = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const request = http.request(
        `${server.sandbox.sandbox.baseUrls.KIWOOM.real}/api/dostk/stkinfo`,
        {
          method: "POST",
          localAddress: "127.0.0.2",
          headers: {
            authorization: `Bearer ${accessToken}`,
            "api-id": "ka10001",
            "content-type": "application/json;charset=UTF-8",
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("end", () => resolve(JSON.parse(Buffer.concat(chunks).toString("utf8"))));
        },
      );
      request.on("error", reject);
      request.end(JSON.stringify({ stk_cd: "005930" }));
    });
    expect(String(direct.return_msg)).toContain("[8010:");
    expect((await kiwoomInfo(server, id)).status).toBe(200);
  });

  test("a token revoked behind the service's back costs exactly one re-issue and one replay", async () => {
    const { sandbox } = server.sandbox;
    const { id, appKey } = await create(server, "KIWOOM", "real");
    expect((await kiwoomInfo(server, id)).status).toBe(200);
    // Kiwoom's issue pace here is 1 s (sandbox and settings): let it pass.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const before = sandbox.stats();
    expect(sandbox.revokeAll({ appKey })).toBe(1);

    const answer = await kiwoomInfo(server, id);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ return_code: 0 });
    const after = sandbox.stats();
    expect((after.issued.byAppKey[appKey] ?? 0) - (before.issued.byAppKey[appKey] ?? 0)).toBe(1);
    const endpoint = "KIWOOM real POST /api/dostk/stkinfo";
    expect((after.calls.byEndpoint[endpoint] ?? 0) - (before.calls.byEndpoint[endpoint] ?? 0)).toBe(
      2,
    );
    await server.runtime.gateway.settled();
    const audit = await server.db.sql<{ replayed: boolean; broker_code: string | null }[]>`
      SELECT replayed, broker_code FROM broker_calls WHERE account_id = ${id} ORDER BY id`;
    expect(audit).toEqual([
      { replayed: false, broker_code: null },
      { replayed: false, broker_code: "8005" },
      { replayed: true, broker_code: null },
    ]);
  });

  test("a burst the sandbox refuses when sent directly passes the gateway with no EGW00201", async () => {
    const { sandbox } = server.sandbox;
    const { id, appKey } = await create(server, "KIS", "paper");
    expect((await gateway(server, id, PRICE, { headers: { tr_id: "FHKST01010100" } })).status).toBe(
      200,
    );
    const { accessToken } = await server.runtime.tokens.getValidToken(id);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const direct = await Promise.all(
      Array.from({ length: 6 }, () =>
        fetch(`${sandbox.baseUrls.KIS.paper}/${PRICE}`, {
          headers: {
            authorization: `Bearer ${accessToken}`,
            appkey: appKey,
            appsecret: "x",
            tr_id: "FHKST01010100",
          },
        }).then((response) => response.json() as Promise<{ msg_cd: string }>),
      ),
    );
    expect(direct.filter((body) => body.msg_cd === "EGW00201").length).toBeGreaterThan(0);

    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const before = sandbox.stats().calls.byCode.EGW00201 ?? 0;
    // Paper's 2/s keeps one a second for orders: 4 queries fit the 5 s wait bound at 1/s.
    const through = await Promise.all(
      Array.from({ length: 4 }, () =>
        gateway(server, id, PRICE, { headers: { tr_id: "FHKST01010100" } }),
      ),
    );
    expect(through.map((answer) => answer.body.msg_cd)).toEqual(Array(4).fill("MCA00000"));
    expect(sandbox.stats().calls.byCode.EGW00201 ?? 0).toBe(before);
  });

  test("paths outside the broker's REST prefix, dot segments and escapes are 400s and never forwarded", async () => {
    const { sandbox } = server.sandbox;
    const { id } = await create(server, "KIS", "real");
    const requestsBefore = sandbox.stats().requests;
    for (const path of [
      "oauth2/tokenP",
      "uapi/%2e%2e/oauth2/tokenP",
      "uapi%2f..%2foauth2/tokenP",
      "uapi/domestic-stock/%2E%2E/%2E%2E/oauth2/revokeP",
      "uapi/domestic-stock/v1%2fquotations/inquire-price",
      "uapi//domestic-stock",
      "api/dostk/stkinfo",
      "_sandbox/stats",
    ]) {
      const answer = await gateway(server, id, path, { headers: { tr_id: "FHKST01010100" } });
      expect(answer.status, path).toBe(400);
      expect(answer.headers.get("content-type"), path).toBe("application/problem+json");
    }
    // Raw request lines, as no URL library would normalise them: literal dot segments and
    // backslashes (the Node server itself refuses those with a bare 400).
    for (const raw of [
      `/accounts/${id}/broker/uapi/../../oauth2/tokenP`,
      `/accounts/${id}/broker/uapi/domestic-stock/..\\..\\..\\oauth2/tokenP`,
      `/accounts/${id}/broker/uapi/%2e%2e/%2E%2E/oauth2/tokenP`,
    ]) {
      const status = await new Promise<{ status: number; type: string | undefined }>(
        (resolve, reject) => {
          const url = new URL(server.url);
          const request = http.request(
            {
              host: url.hostname,
              port: url.port,
              path: raw,
              headers: { authorization: `Bearer ${server.adminKey}`, tr_id: "FHKST01010100" },
            },
            (response) => {
              response.resume();
              resolve({
                status: response.statusCode ?? 0,
                type: response.headers["content-type"],
              });
            },
          );
          request.on("error", reject);
          request.end();
        },
      );
      expect(status.status, raw).toBeGreaterThanOrEqual(400);
      expect(status.status, raw).toBeLessThan(500);
    }
    const kiwoom = await create(server, "KIWOOM", "paper");
    const wrongPrefix = await gateway(server, kiwoom.id, "uapi/domestic-stock/v1/x", {
      body: {},
    });
    expect(wrongPrefix.status).toBe(400);
    expect(sandbox.stats().requests).toBe(requestsBefore);
  });

  test("only the allow-listed headers reach the broker: a caller's appkey or authorization changes nothing", async () => {
    const { id } = await create(server, "KIS", "real");
    const answer = await gateway(server, id, PRICE, {
      headers: { tr_id: "FHKST01010100", appkey: "someone-else", appsecret: "nope" },
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ rt_cd: "0" });
  });

  test("the scope is broker:call (admin implies it); a key without it gets 403", async () => {
    const { id } = await create(server, "KIS", "real");
    const denied = await gateway(server, id, PRICE, {
      headers: { tr_id: "FHKST01010100" },
      key: server.keys.reader as string,
    });
    expect(denied.status).toBe(403);
    const anonymous = await gateway(server, id, PRICE, { key: null });
    expect(anonymous.status).toBe(401);
  });

  test("every call is audited and logged without bodies; the status route shows counts and the last broker error", async () => {
    const { id } = await create(server, "KIS", "real");
    await gateway(server, id, PRICE, { headers: { tr_id: "FHKST01010100" } });
    const failed = await gateway(server, id, PRICE, { headers: { tr_id: "XXXX0000" } });
    expect(failed.body).toMatchObject({ rt_cd: "1", msg_cd: "OPSQ0002" });
    await server.runtime.gateway.settled();
    const [row] = await server.db.sql<Record<string, unknown>[]>`
      SELECT * FROM broker_calls WHERE account_id = ${id} ORDER BY id DESC LIMIT 1`;
    expect(row).toMatchObject({
      broker: "KIS",
      environment: "real",
      method: "GET",
      path: "/uapi/domestic-stock/v1/quotations/inquire-price",
      transaction_id: "XXXX0000",
      status: 200,
      broker_code: "OPSQ0002",
      key_id: "test-admin",
      replayed: false,
    });
    const status = await server.call("/broker/status");
    expect(status.status).toBe(200);
    const report = (await status.json()) as {
      accounts: { account_id: number; calls: number; failed_calls: number; last_error: unknown }[];
    };
    expect(report.accounts.find((a) => a.account_id === id)).toMatchObject({
      calls: 2,
      failed_calls: 1,
      last_error: {
        status: 200,
        broker_code: "OPSQ0002",
        path: "/uapi/domestic-stock/v1/quotations/inquire-price",
      },
    });
    const lines = server
      .logs()
      .split("\n")
      .filter((line) => line.includes('"broker_call"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.filter((line) => line.account_id === id).at(-1)).toMatchObject({
      broker: "KIS",
      transaction_id: "XXXX0000",
      status: 200,
      broker_code: "OPSQ0002",
      key_id: "test-admin",
    });
    expect(server.logs()).not.toContain("FID_INPUT_ISCD");
  });

  test("the answer does not wait for its audit row, which is written after it; settled() waits for the row", async () => {
    const { id } = await create(server, "KIWOOM", "real");
    expect((await kiwoomInfo(server, id)).status).toBe(200);
    await server.runtime.gateway.settled();
    // Hold the account's totals row: the next audit write must wait for it.
    const holder = await server.db.sql.reserve();
    try {
      await holder`BEGIN`;
      await holder`SELECT calls FROM broker_call_totals WHERE account_id = ${id} FOR UPDATE`;
      const answer = await kiwoomInfo(server, id);
      expect(answer.status).toBe(200);
      let settled = false;
      const waiting = server.runtime.gateway.settled().then(() => {
        settled = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(settled).toBe(false);
      const [during] = await server.db.sql<{ count: number }[]>`
        SELECT count(*)::int AS count FROM broker_calls WHERE account_id = ${id}`;
      expect(during?.count).toBe(1);
      await holder`COMMIT`;
      await waiting;
    } finally {
      holder.release();
    }
    const [after] = await server.db.sql<{ count: number }[]>`
      SELECT count(*)::int AS count FROM broker_calls WHERE account_id = ${id}`;
    expect(after?.count).toBe(2);
  });

  test("a broker that does not answer in time is a 504 problem", async () => {
    const { sandbox } = server.sandbox;
    const { id } = await create(server, "KIS", "real");
    await server.runtime.tokens.getValidToken(id);
    sandbox.configure({ latencyMs: 2_500 });
    try {
      const answer = await gateway(server, id, PRICE, { headers: { tr_id: "FHKST01010100" } });
      expect(answer.status).toBe(504);
      expect(answer.body).toMatchObject({ type: expect.stringContaining("broker-timeout") });
    } finally {
      sandbox.configure({ latencyMs: 0 });
    }
  });

  test("no token appears in any gateway answer or log line", async () => {
    const rows = await server.db.sql<
      { account_id: number }[]
    >`SELECT account_id FROM securities_tokens`;
    expect(rows.length).toBeGreaterThan(3);
    const logs = server.logs();
    const seen = answers.join("\n");
    for (const { account_id } of rows) {
      const { accessToken } = await server.runtime.tokens.getValidToken(account_id);
      expect(seen).not.toContain(accessToken);
      expect(logs).not.toContain(accessToken);
    }
  });
});

describe("pacing limits and an unreachable broker", () => {
  let slow: TestServer;

  beforeAll(async () => {
    slow = await startTestServer({
      env: { KIWOOM_MIN_ISSUE_INTERVAL_MS: "1000", BROKER_CALL_MAX_WAIT_MS: "1500" },
    });
  });

  afterAll(async () => {
    await slow?.stop();
  });

  test("a call whose slot is further than the wait bound gets a 429 with Retry-After, and nothing is sent", async () => {
    const { id } = await create(slow, "KIWOOM", "paper");
    expect((await kiwoomInfo(slow, id)).status).toBe(200);
    const before = slow.sandbox.sandbox.stats().calls.total;
    // 1 call a second: the burst books slots 1 s apart, so the later ones are past the 1.5 s bound.
    const burst = await Promise.all(Array.from({ length: 4 }, () => kiwoomInfo(slow, id)));
    const refused = burst.filter((answer) => answer.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]?.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
    expect(refused[0]?.body).toMatchObject({
      type: expect.stringContaining("too-many-requests"),
      code: "broker_call_pace_exceeded",
    });
    const sent = slow.sandbox.sandbox.stats().calls.total - before;
    expect(sent).toBe(burst.length - refused.length);
    expect(slow.sandbox.sandbox.stats().calls.byCode["1700"]).toBeUndefined();
  });

  test("a broker that cannot be reached is a 503 problem", async () => {
    const { id } = await create(slow, "KIS", "real");
    await slow.runtime.tokens.getValidToken(id);
    await slow.sandbox.stop();
    const answer = await gateway(slow, id, PRICE, { headers: { tr_id: "FHKST01010100" } });
    expect(answer.status).toBe(503);
    expect(answer.body).toMatchObject({ type: expect.stringContaining("broker-unavailable") });
  });
});

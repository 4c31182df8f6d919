import { request } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { PROBLEM_BASE, toProblem } from "../../core/api/problems";
import {
  type Broker,
  BrokerCredentialsError,
  type BrokerEnvironment,
  BrokerError,
  BrokerIpMismatchError,
  BrokerRateLimitedError,
  BrokerTokenRejectedError,
  BrokerUnavailableError,
  classifyKisAnswer,
  classifyKiwoomAnswer,
  isTokenRejection,
} from "../../core/brokers";
import {
  type ManualClock,
  startTestBrokerSandbox,
  type TestBrokerSandbox,
  type TestBrokerSandboxOptions,
} from "../support/sandbox";

/** The brokers' real error shapes, spoken by the sandbox over real HTTP and read by the adapters. */

const started: TestBrokerSandbox[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((sandbox) => sandbox.stop()));
});

async function sandbox(options: TestBrokerSandboxOptions = {}) {
  const test = await startTestBrokerSandbox(options);
  started.push(test);
  return { ...test, clock: test.clock as ManualClock, brokers: test.registry() };
}
type Sandbox = Awaited<ReturnType<typeof sandbox>>;

function creds(environment: BrokerEnvironment, appKey: string) {
  return { environment, appKey, appSecret: `secret-of-${appKey}` };
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

/** POST JSON to the sandbox, optionally from another loopback address; status and parsed body. */
function postFrom(
  url: string,
  body: unknown,
  headers: Record<string, string>,
  localAddress?: string,
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        headers: { "content-type": "application/json;charset=UTF-8", ...headers },
        ...(localAddress ? { localAddress } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(Buffer.concat(chunks).toString("utf8")),
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

/** Kiwoom's stock-info call with a token, from an optional source address. */
function kiwoomCall(test: Sandbox, environment: BrokerEnvironment, token: string, from?: string) {
  return postFrom(
    `${test.sandbox.baseUrls.KIWOOM[environment]}/api/dostk/stkinfo`,
    { stk_cd: "005930" },
    { authorization: `Bearer ${token}`, "api-id": "ka10001" },
    from,
  );
}

function interpret(test: Sandbox, broker: Broker, answer: { status: number; body: unknown }) {
  return test.brokers.interpretError(broker, answer, [], "paper");
}

describe("Kiwoom's real error shapes over HTTP", () => {
  it("refused keys: the sandbox sends the code after a prefix with return_code 3; the account gets broker_credentials_rejected 8001", async () => {
    const test = await sandbox();
    const raw = await postFrom(
      `${test.sandbox.baseUrls.KIWOOM.paper}/oauth2/token`,
      { grant_type: "client_credentials", appkey: "INVALID-key", secretkey: "s" },
      { "api-id": "au10001" },
    );
    expect(raw.body).toEqual({
      return_code: 3,
      return_msg: expect.stringMatching(/^[^[]+\[8001:/),
    });
    expect(classifyKiwoomAnswer(raw.status, raw.body)).toEqual({
      code: "8001",
      kind: "credentials_invalid",
    });

    const error = await failure(
      test.brokers.get("KIWOOM").issueToken(creds("paper", "INVALID-key")),
    );
    expect(error).toBeInstanceOf(BrokerCredentialsError);
    const { problem } = toProblem(error);
    expect(problem).toMatchObject({
      status: 502,
      code: "broker_credentials_rejected",
      broker: "KIWOOM",
      broker_code: "8001",
    });
    expect(problem.detail).toContain("PATCH /accounts/{id}");
  });

  it("the code is read the same when Kiwoom answers the error with a non-2xx status", async () => {
    const test = await sandbox({ kiwoomErrorStatus: 400 });
    const error = await failure(
      test.brokers.get("KIWOOM").issueToken(creds("paper", "INVALID-key")),
    );
    expect(error).toMatchObject({
      httpStatus: 400,
      brokerCode: "8001",
      codeKind: "credentials_invalid",
    });
  });

  it("8030: a key of the other environment says that real and mock keys are mixed up, naming the host", async () => {
    const test = await sandbox();
    const client = test.brokers.get("KIWOOM");
    await client.issueToken(creds("real", "real-key"));
    test.clock.advance(2_000);
    const error = await failure(client.issueToken(creds("paper", "real-key")));
    expect(error).toMatchObject({ brokerCode: "8030", codeKind: "wrong_environment" });
    const { problem } = toProblem(error);
    expect(problem.code).toBe("broker_wrong_environment");
    expect(problem.detail).toContain("real and mock (paper) keys are mixed up");
    expect(problem.detail).toContain("Kiwoom's mock/paper host");
  });

  it("8031: a real token on the mock host is a token rejection that names the environment", async () => {
    const test = await sandbox();
    const token = await test.brokers.get("KIWOOM").issueToken(creds("real", "k31"));
    const error = interpret(test, "KIWOOM", await kiwoomCall(test, "paper", token.accessToken));
    expect(error).toBeInstanceOf(BrokerTokenRejectedError);
    expect(error?.brokerCode).toBe("8031");
    expect(toProblem(error).problem.detail).toContain(
      "host refused a token issued for the real environment",
    );
  });

  it("8005 after the prefix on a call (expired token) is a token rejection: re-issue once", async () => {
    const test = await sandbox();
    const token = await test.brokers.get("KIWOOM").issueToken(creds("paper", "k05"));
    test.clock.advance(25 * 3_600_000);
    const raw = await kiwoomCall(test, "paper", token.accessToken);
    expect((raw.body as { return_msg: string }).return_msg).toMatch(/^인증에 실패했습니다\[8005:/);
    const error = interpret(test, "KIWOOM", raw);
    expect(isTokenRejection(error)).toBe(true);
    expect(error?.codeKind).toBe("token_rejected");
  });

  it("8010: a token used from another IP than the one that issued it is an IP mismatch, not a stale token", async () => {
    const test = await sandbox();
    const token = await test.brokers.get("KIWOOM").issueToken(creds("paper", "k10"));
    expect((await kiwoomCall(test, "paper", token.accessToken)).status).toBe(200);
    const raw = await kiwoomCall(test, "paper", token.accessToken, "127.0.0.2");
    expect(classifyKiwoomAnswer(raw.status, raw.body)).toEqual({
      code: "8010",
      kind: "ip_mismatch",
    });
    const error = interpret(test, "KIWOOM", raw);
    expect(error).toBeInstanceOf(BrokerIpMismatchError);
    expect(isTokenRejection(error)).toBe(false);
    const { problem } = toProblem(error);
    expect(problem.code).toBe("broker_token_ip_mismatch");
    expect(problem.detail).toContain("issued to a different IP address");
  });

  it("8006 at issue is 'retry later': a 503 with Retry-After, not a rejection", async () => {
    const test = await sandbox({ failNextCodes: ["8006"] });
    const error = await failure(test.brokers.get("KIWOOM").issueToken(creds("paper", "k06")));
    expect(error).toBeInstanceOf(BrokerUnavailableError);
    expect(error.brokerCode).toBe("8006");
    const { problem, headers } = toProblem(error);
    expect(problem.status).toBe(503);
    expect(problem.type).toBe(`${PROBLEM_BASE}broker-unavailable`);
    expect(headers["Retry-After"]).toBe("60");
    // The next issue works: nothing was wrong with the keys.
    await expect(
      test.brokers.get("KIWOOM").issueToken(creds("paper", "k06")),
    ).resolves.toBeTruthy();
  });

  it("8015 and 8016 at revoke are failed revokes, never success", async () => {
    const test = await sandbox();
    const client = test.brokers.get("KIWOOM");
    const token = await client.issueToken(creds("paper", "k15"));
    test.sandbox.configure({ failNextCodes: ["8015", "8016"] });
    const failed = await failure(client.revokeToken(creds("paper", "k15"), token.accessToken));
    expect(failed).toMatchObject({ brokerCode: "8015", codeKind: "revoke_failed" });
    const bug = await failure(client.revokeToken(creds("paper", "k15"), token.accessToken));
    expect(bug).toMatchObject({ brokerCode: "8016", codeKind: "our_bug" });
    expect(toProblem(bug).unexpected).toBe(true);
    // The token still works: it was not revoked.
    expect((await kiwoomCall(test, "paper", token.accessToken)).status).toBe(200);
  });

  it("a second issue within the pace is HTTP 429 with return_code 5 and [1700:…] after the prefix", async () => {
    const test = await sandbox();
    await test.brokers.get("KIWOOM").issueToken(creds("paper", "k17"));
    const raw = await postFrom(
      `${test.sandbox.baseUrls.KIWOOM.paper}/oauth2/token`,
      { grant_type: "client_credentials", appkey: "k17", secretkey: "secret-of-k17" },
      { "api-id": "au10001" },
    );
    expect(raw.status).toBe(429);
    expect(raw.body).toEqual({
      return_code: 5,
      return_msg: expect.stringMatching(
        /^허용된 요청 개수를 초과하였습니다\[1700:.*API ID=au10001\]$/,
      ),
    });
    expect(interpret(test, "KIWOOM", raw)).toBeInstanceOf(BrokerRateLimitedError);
  });

  it("every code of the table comes back from the sandbox with the kind BROKERS.md gives it", async () => {
    const test = await sandbox();
    const table: Record<string, string> = {
      "1501": "bad_request",
      "1513": "our_bug",
      "1701": "rate_limited",
      "1902": "bad_request",
      "1999": "retry_later",
      "8002": "credentials_invalid",
      "8003": "token_rejected",
      "8009": "retry_later",
      "8011": "our_bug",
      "8020": "our_bug",
      "8040": "device_not_registered",
      "8050": "device_not_registered",
      "8103": "token_rejected",
      "8104": "bad_request",
      "8200": "not_permitted",
    };
    const token = await test.brokers.get("KIWOOM").issueToken(creds("paper", "all"));
    test.sandbox.configure({ failNextCodes: Object.keys(table) });
    for (const [code, kind] of Object.entries(table)) {
      const raw = await kiwoomCall(test, "paper", token.accessToken);
      expect(classifyKiwoomAnswer(raw.status, raw.body)).toEqual({ code, kind });
    }
  });
});

describe("KIS codes over HTTP", () => {
  it("EGW00207: an unregistered calling IP says the IP must be registered", async () => {
    const test = await sandbox({ kisRegisteredIps: ["10.0.0.7"] });
    const error = await failure(test.brokers.get("KIS").issueToken(creds("paper", "kis-ip")));
    expect(error).toBeInstanceOf(BrokerCredentialsError);
    expect(error).toMatchObject({ brokerCode: "EGW00207", codeKind: "ip_not_registered" });
    const { problem } = toProblem(error);
    expect(problem.code).toBe("broker_ip_not_registered");
    expect(problem.detail).toContain("Register this service's egress IP address");

    test.sandbox.configure({ kisRegisteredIps: ["127.0.0.1"] });
    await expect(
      test.brokers.get("KIS").issueToken(creds("paper", "kis-ip")),
    ).resolves.toBeTruthy();
  });

  it("EGW00206 asks to request the API; EGW00001 and EGW00002 mean retry later", async () => {
    const test = await sandbox({ failNextCodes: ["EGW00206", "EGW00001", "EGW00002"] });
    const client = test.brokers.get("KIS");
    const denied = await failure(client.issueToken(creds("paper", "kis-206")));
    expect(denied.codeKind).toBe("not_permitted");
    expect(toProblem(denied).problem).toMatchObject({ status: 403, code: "broker_not_permitted" });
    expect(toProblem(denied).problem.detail).toContain("Request access to the API");
    for (const code of ["EGW00001", "EGW00002"]) {
      const busy = await failure(client.issueToken(creds("paper", "kis-busy")));
      expect(busy).toBeInstanceOf(BrokerUnavailableError);
      expect(busy.brokerCode).toBe(code);
      expect(toProblem(busy).headers["Retry-After"]).toBe("60");
    }
    const raw = await fetch(`${test.sandbox.baseUrls.KIS.paper}/oauth2/tokenP`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        grant_type: "client_credentials",
        appkey: "INVALIDx",
        appsecret: "s",
      }),
    });
    expect(classifyKisAnswer(raw.status, await raw.json())).toEqual({
      code: "EGW00103",
      kind: "credentials_invalid",
    });
  });
});

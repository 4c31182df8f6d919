import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { resetSandbox, useBrokerSandbox } from "../support/sandbox";

const current = useBrokerSandbox();

async function json(response: Response): Promise<Record<string, unknown>> {
  return (await response.json()) as Record<string, unknown>;
}

describe("the sandbox's own HTTP endpoints", () => {
  // Each test starts from the default config and zeroed stats, whatever ran before it.
  beforeEach(() => resetSandbox(current().sandbox));

  it("serves stats as JSON with issues per app key and environment and rejections per code", async () => {
    const { sandbox } = current();
    await fetch(`${sandbox.baseUrls.KIS.paper}/oauth2/tokenP`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        grant_type: "client_credentials",
        appkey: "e2e-key",
        appsecret: "e2e-secret",
      }),
    });
    await fetch(`${sandbox.baseUrls.KIWOOM.real}/oauth2/token`, {
      method: "POST",
      headers: { "content-type": "application/json;charset=UTF-8", "api-id": "au10001" },
      body: JSON.stringify({
        grant_type: "client_credentials",
        appkey: "INVALIDkey",
        secretkey: "s",
      }),
    });
    const stats = await json(await fetch(`${sandbox.url}/_sandbox/stats`));
    expect(stats.issued).toMatchObject({
      total: 1,
      byAppKey: { "e2e-key": 1 },
      byEnvironment: { KIS: { real: 0, paper: 1 }, KIWOOM: { real: 0, paper: 0 } },
    });
    expect(stats.rejections).toEqual({ total: 1, byCode: { "8001": 1 } });
  });

  it("changes faults and latency over POST /_sandbox/config", async () => {
    const { sandbox } = current();
    const response = await fetch(`${sandbox.url}/_sandbox/config`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ errorRate: 1, errorKinds: ["server_error"], latencyMs: 5 }),
    });
    expect(response.status).toBe(200);
    expect(await json(response)).toMatchObject({
      errorRate: 1,
      errorKinds: ["server_error"],
      latencyMs: 5,
    });
    const faulty = await fetch(`${sandbox.baseUrls.KIS.real}/oauth2/tokenP`, {
      method: "POST",
      body: JSON.stringify({ appkey: "k", appsecret: "s" }),
    });
    expect(faulty.status).toBeGreaterThanOrEqual(500);
    expect(sandbox.stats().faults.server_error).toBe(1);
    await fetch(`${sandbox.url}/_sandbox/config`, {
      method: "POST",
      body: JSON.stringify({ errorRate: 0, latencyMs: 0 }),
    });
    expect(sandbox.config()).toMatchObject({ errorRate: 0, latencyMs: 0 });
  });

  it("refuses a bad config change with 400 naming the setting, and changes nothing", async () => {
    const { sandbox } = current();
    const before = sandbox.config();
    const response = await fetch(`${sandbox.url}/_sandbox/config`, {
      method: "POST",
      body: JSON.stringify({ latencyMs: 1, errorRate: 3 }),
    });
    expect(response.status).toBe(400);
    expect(String((await json(response)).error)).toMatch(/^errorRate /);
    expect(sandbox.config()).toEqual(before);
  });

  it("answers the next request on a path with a queued recorded answer, once, keeping no key of the request", async () => {
    const { sandbox } = current();
    const recorded = { access_token: "recorded-token", token_type: "Bearer", expires_in: 86400 };
    const change = await fetch(`${sandbox.url}/_sandbox/config`, {
      method: "POST",
      body: JSON.stringify({
        answerNext: [{ broker: "KIS", path: "/oauth2/tokenP", status: 200, body: recorded }],
      }),
    });
    expect(change.status).toBe(200);
    const issue = () =>
      fetch(`${sandbox.baseUrls.KIS.paper}/oauth2/tokenP`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          grant_type: "client_credentials",
          appkey: "recorded-key",
          appsecret: "recorded-secret",
        }),
      });
    expect(await json(await issue())).toEqual(recorded);
    // Used once: the next issue is the sandbox's own.
    expect((await json(await issue())).access_token).not.toBe("recorded-token");
    const stats = sandbox.stats();
    expect(stats.recorded).toEqual([
      {
        broker: "KIS",
        path: "/oauth2/tokenP",
        body: { grant_type: "client_credentials", appkey: "***", appsecret: "***" },
      },
    ]);
    expect(stats.issued.total).toBe(1);
    expect(sandbox.config().answerNext).toEqual([]);
  });

  it("refuses a recorded answer without a broker, naming answerNext", async () => {
    const { sandbox } = current();
    const response = await fetch(`${sandbox.url}/_sandbox/config`, {
      method: "POST",
      body: JSON.stringify({ answerNext: [{ path: "/oauth2/tokenP", status: 200, body: {} }] }),
    });
    expect(response.status).toBe(400);
    expect(String((await json(response)).error)).toMatch(/^answerNext must be a list/);
  });

  it("revokes live tokens early over POST /_sandbox/revoke-all", async () => {
    const { sandbox } = current();
    const issued = await json(
      await fetch(`${sandbox.baseUrls.KIWOOM.paper}/oauth2/token`, {
        method: "POST",
        body: JSON.stringify({
          grant_type: "client_credentials",
          appkey: "rv-key",
          secretkey: "s",
        }),
      }),
    );
    const response = await fetch(`${sandbox.url}/_sandbox/revoke-all`, {
      method: "POST",
      body: JSON.stringify({ appKey: "rv-key" }),
    });
    expect(await json(response)).toEqual({ revoked: 1 });
    const used = await json(
      await fetch(`${sandbox.baseUrls.KIWOOM.paper}/api/dostk/stkinfo`, {
        method: "POST",
        headers: { authorization: `Bearer ${String(issued.token)}`, "api-id": "ka10001" },
        body: "{}",
      }),
    );
    expect(String(used.return_msg)).toMatch(/^인증에 실패했습니다\[8005:/);
  });

  it("answers 404 for paths no broker has", async () => {
    const { sandbox } = current();
    expect((await fetch(`${sandbox.url}/kis/demo/oauth2/tokenP`, { method: "POST" })).status).toBe(
      404,
    );
    expect(
      (await fetch(`${sandbox.baseUrls.KIWOOM.real}/oauth2/tokenP`, { method: "POST" })).status,
    ).toBe(404);
  });
});

describe("npm run sandbox", () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child && child.exitCode === null) child.kill("SIGKILL");
  });

  it("prints its base URLs, serves both brokers, logs no secrets and stops on Ctrl-C", async () => {
    child = spawn(process.execPath, ["--import", "tsx", "dev/sandbox-cli.ts"], {
      env: { ...process.env, SANDBOX_PORT: "0", LOG_LEVEL: "debug" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const deadline = Date.now() + 30_000;
    while (
      !/KIWOOM_PAPER_URL=\S+/.test(output) &&
      Date.now() < deadline &&
      child.exitCode === null
    ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const kisReal = /KIS_REAL_URL=(\S+)/.exec(output)?.[1];
    expect(kisReal).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/kis\/real$/);
    expect(output).toMatch(/KIWOOM_PAPER_URL=http:\/\/127\.0\.0\.1:\d+\/kiwoom\/paper/);

    const issued = await fetch(`${kisReal}/oauth2/tokenP`, {
      method: "POST",
      headers: { authorization: "Bearer not-a-token" },
      body: JSON.stringify({
        grant_type: "client_credentials",
        appkey: "CLI-APPKEY-SENTINEL",
        appsecret: "CLI-SECRET-SENTINEL",
      }),
    });
    const token = String((await json(issued)).access_token);
    expect(token.length).toBeGreaterThan(10);

    const exited = once(child, "exit");
    child.kill("SIGINT");
    const [code] = await exited;
    expect(code).toBe(0);
    expect(output).toContain("sandbox answer");
    for (const secret of ["CLI-APPKEY-SENTINEL", "CLI-SECRET-SENTINEL", token]) {
      expect(output).not.toContain(secret);
    }
  });
});

import { readdirSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROBLEM_BASE, toProblem } from "../../core/api/problems";
import {
  type Broker,
  BrokerError,
  type BrokerRegistry,
  classifyKisAnswer,
  classifyKiwoomAnswer,
  createBrokerRegistry,
  isTokenRejection,
  parseBrokerSettings,
} from "../../core/brokers";
import { manualClock } from "../support/sandbox";

/** Recorded broker answers (test/fixtures/brokers/*.json), served over loopback so the real fetch path runs. */
interface Fixture {
  description: string;
  broker: Broker;
  operation: "issue" | "revoke" | "call" | "approval";
  response: { status: number; body: unknown; headers?: Record<string, string> };
  expect: {
    token?: { accessToken: string; tokenType: string; expiresAt: string; expiresIn: number };
    approvalKey?: string;
    expiresAt?: string;
    resolves?: boolean;
    noError?: boolean;
    error?: string;
    kind?: string;
    brokerCode?: string;
    retryAfterMs?: number;
    problem?: string;
    reason?: string;
    tokenRejection?: boolean;
    /** What the code means (BrokerCodeKind) and the service's own error code. */
    codeKind?: string;
    /** The problem document the API answers with. */
    http?: {
      status: number;
      type: string;
      code: string;
      broker_code?: string;
      detailIncludes?: string;
      retryAfter?: string;
    };
  };
}

const FIXTURE_DIR = join(import.meta.dirname, "../fixtures/brokers");
const fixtures = readdirSync(FIXTURE_DIR)
  .filter((name) => name.endsWith(".json"))
  .sort()
  .map((file) => ({
    name: file.replace(/\.json$/, ""),
    fixture: JSON.parse(readFileSync(join(FIXTURE_DIR, file), "utf8")) as Fixture,
  }));

const CREDENTIALS = {
  environment: "real" as const,
  appKey: "FIXTURE-APP-KEY-0001",
  appSecret: "FIXTURE-SECRET-0001",
};
const ACCESS_TOKEN = "FIXTURE-TOKEN-0001";
const SECRETS = [CREDENTIALS.appKey, CREDENTIALS.appSecret, ACCESS_TOKEN];

interface Seen {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: Record<string, unknown>;
}

let server: Server;
let baseUrl: string;
const seen = new Map<string, Seen>();

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const [, , name = "", ...rest] = (req.url ?? "/").split("/");
      const entry = fixtures.find((candidate) => candidate.name === name);
      const text = Buffer.concat(chunks).toString("utf8");
      seen.set(name, {
        method: req.method ?? "",
        path: `/${rest.join("/")}`,
        headers: req.headers,
        body: text ? JSON.parse(text) : {},
      });
      if (!entry) {
        res.writeHead(404).end();
        return;
      }
      const { status, body, headers } = entry.fixture.response;
      const isText = typeof body === "string";
      res.writeHead(status, {
        "content-type": isText ? "text/html" : "application/json; charset=utf-8",
        ...headers,
      });
      res.end(isText ? body : JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function registryFor(name: string): BrokerRegistry {
  const base = `${baseUrl}/f/${name}`;
  const settings = parseBrokerSettings({
    KIS_REAL_URL: base,
    KIS_PAPER_URL: base,
    KIWOOM_REAL_URL: base,
    KIWOOM_PAPER_URL: base,
    BROKER_TIMEOUT_MS: "2000",
  });
  return createBrokerRegistry(settings, { clock: manualClock(new Date("2025-01-06T00:30:00Z")) });
}

async function run(name: string, fixture: Fixture): Promise<unknown> {
  const registry = registryFor(name);
  const client = registry.get(fixture.broker);
  if (fixture.operation === "issue") return client.issueToken(CREDENTIALS);
  if (fixture.operation === "revoke") return client.revokeToken(CREDENTIALS, ACCESS_TOKEN);
  if (fixture.operation === "approval") {
    if (!client.issueApprovalKey) throw new Error(`${fixture.broker} has no approval key`);
    return client.issueApprovalKey(CREDENTIALS);
  }
  const response = await fetch(`${baseUrl}/f/${name}/api`, {
    method: "POST",
    signal: AbortSignal.timeout(2000),
  });
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const error = registry.interpretError(
    fixture.broker,
    { status: response.status, headers: response.headers, body },
    SECRETS,
  );
  if (error) throw error;
  return undefined;
}

describe("adapters read every recorded broker answer", () => {
  it("has a recorded answer for every shape BROKERS.md lists", () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(80);
    const recorded = new Set(fixtures.map(({ fixture }) => fixture.expect.brokerCode));
    // Every code of BROKERS.md's Kiwoom table and the KIS codes it names.
    const listed = [
      ..."1501 1504 1505 1511 1512 1513 1514 1515 1516 1517 1687 1700 1701 1702 1901 1902 1903 1999".split(
        " ",
      ),
      ..."8001 8002 8003 8005 8006 8009 8010 8011 8012 8015 8016 8020 8030 8031 8040 8050 8103 8104 8200".split(
        " ",
      ),
      ..."EGW00001 EGW00002 EGW00102 EGW00103 EGW00104 EGW00105 EGW00121 EGW00122 EGW00123".split(
        " ",
      ),
      ..."EGW00133 EGW00201 EGW00206 EGW00207 EGW00213".split(" "),
    ];
    expect(listed.filter((code) => !recorded.has(code))).toEqual([]);
  });

  for (const { name, fixture } of fixtures) {
    it(`${fixture.description} (${name})`, async () => {
      const expected = fixture.expect;
      let outcome: unknown;
      let failure: unknown;
      try {
        outcome = await run(name, fixture);
      } catch (error) {
        failure = error;
      }

      if (expected.token) {
        expect(failure).toBeUndefined();
        const token = outcome as Record<string, unknown>;
        expect(token.accessToken).toBe(expected.token.accessToken);
        expect(token.tokenType).toBe(expected.token.tokenType);
        expect((token.expiresAt as Date).toISOString()).toBe(expected.token.expiresAt);
        expect(token.expiresIn).toBe(expected.token.expiresIn);
        expect((token.issuedAt as Date).toISOString()).toBe("2025-01-06T00:30:00.000Z");
      } else if (expected.approvalKey) {
        expect(failure).toBeUndefined();
        const approval = outcome as { approvalKey: string; expiresAt: Date };
        expect(approval.approvalKey).toBe(expected.approvalKey);
        expect(approval.expiresAt.toISOString()).toBe(expected.expiresAt);
      } else if (expected.resolves || expected.noError) {
        expect(failure).toBeUndefined();
      } else {
        expect(failure).toBeInstanceOf(BrokerError);
        const error = failure as BrokerError & Record<string, unknown>;
        expect(error.name).toBe(expected.error);
        expect(error.kind).toBe(expected.kind);
        expect(error.broker).toBe(fixture.broker);
        if (expected.brokerCode !== undefined) expect(error.brokerCode).toBe(expected.brokerCode);
        if (expected.retryAfterMs !== undefined)
          expect(error.retryAfterMs).toBe(expected.retryAfterMs);
        if (expected.problem !== undefined) expect(error.problem).toBe(expected.problem);
        if (expected.reason !== undefined) expect(error.reason).toBe(expected.reason);
        expect(isTokenRejection(error)).toBe(expected.tokenRejection ?? false);
        if (expected.codeKind !== undefined) {
          expect(error.codeKind).toBe(expected.codeKind);
          // The exported classifier says the same as the adapter.
          const response = fixture.response;
          const body = typeof response.body === "string" ? undefined : response.body;
          const classify = fixture.broker === "KIS" ? classifyKisAnswer : classifyKiwoomAnswer;
          expect(classify(response.status, body)).toEqual({
            code: expected.brokerCode,
            kind: expected.codeKind,
          });
        }
        if (expected.http) {
          const { problem, headers } = toProblem(error);
          expect(problem.status).toBe(expected.http.status);
          expect(problem.type).toBe(`${PROBLEM_BASE}${expected.http.type}`);
          expect(problem.code).toBe(expected.http.code);
          expect(problem.broker_code).toBe(expected.http.broker_code);
          if (expected.http.detailIncludes)
            expect(problem.detail).toContain(expected.http.detailIncludes);
          expect(headers["Retry-After"]).toBe(expected.http.retryAfter);
          for (const secret of SECRETS) expect(JSON.stringify(problem)).not.toContain(secret);
        }
        const visible = `${error.message} ${JSON.stringify(error)} ${String(error.brokerMessage)}`;
        for (const secret of SECRETS) expect(visible).not.toContain(secret);
      }

      if (fixture.operation !== "call") {
        const request = seen.get(name);
        expect(request?.method).toBe("POST");
        expect(request?.headers["content-type"]).toMatch(/^application\/json;\s?charset=UTF-8$/i);
        // KIS's approval endpoint takes the secret as `secretkey`, its token endpoints as `appsecret`.
        const secretField =
          fixture.broker === "KIS" && fixture.operation !== "approval" ? "appsecret" : "secretkey";
        expect(request?.body.appkey).toBe(CREDENTIALS.appKey);
        expect(request?.body[secretField]).toBe(CREDENTIALS.appSecret);
        if (fixture.operation === "approval") expect(request?.body).not.toHaveProperty("appsecret");
        const paths = {
          KIS: { issue: "/oauth2/tokenP", revoke: "/oauth2/revokeP", approval: "/oauth2/Approval" },
          KIWOOM: { issue: "/oauth2/token", revoke: "/oauth2/revoke", approval: "" },
        };
        expect(request?.path).toBe(paths[fixture.broker][fixture.operation]);
        if (fixture.operation !== "revoke")
          expect(request?.body.grant_type).toBe("client_credentials");
        else expect(request?.body.token).toBe(ACCESS_TOKEN);
        if (fixture.broker === "KIWOOM") {
          expect(request?.headers["api-id"]).toBe(
            fixture.operation === "issue" ? "au10001" : "au10002",
          );
        }
      }
    });
  }
});

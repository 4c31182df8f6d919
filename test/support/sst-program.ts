/**
 * Evaluates the real sst.config.ts program under Pulumi's mock runtime, with
 * SST's platform from `.sst/platform` (written by the offline `sst install`
 * in scripts/check-infra.sh). Nothing reaches AWS: Pulumi's resource
 * registrations go to `setMocks`, and the SST CLI's RPC endpoint (function
 * builds, bootstrap bucket) is a local stand-in that answers with fixed
 * values. What comes back is every resource the program registered, with
 * its inputs, and the program's outputs resolved.
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const ROOT = join(import.meta.dirname, "..", "..");
export const PLATFORM = join(ROOT, ".sst", "platform");

/** Why the program cannot be evaluated here, or undefined when it can. */
export function sstPlatformMissing(): string | undefined {
  return existsSync(join(PLATFORM, "node_modules", "@pulumi", "pulumi"))
    ? undefined
    : ".sst/platform is not installed: run scripts/check-infra.sh (the offline `sst install`) first";
}

export interface MockResource {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

export interface EvaluatedProgram {
  resources: MockResource[];
  outputs: Record<string, unknown>;
  /** What SST asked its CLI to build: one entry per function. */
  builds: { handler: string; functionID: string }[];
}

type Json = Record<string, unknown>;

async function fakeSstServer(
  outDir: string,
  builds: EvaluatedProgram["builds"],
): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => {
      body += String(chunk);
    });
    req.on("end", () => {
      const call = JSON.parse(body) as { method: string; params: Json[] };
      const params = call.params?.[0] ?? {};
      let result: unknown = null;
      if (call.method === "Runtime.Build") {
        builds.push({
          handler: String(params.handler),
          functionID: String(params.functionID),
        });
        result = { handler: "index.handler", out: outDir, errors: [], sourcemaps: [] };
      } else if (call.method === "Provider.Aws.Bootstrap") {
        result = {
          asset: "sst-asset-mock",
          assetEcrRegistryId: "123456789012",
          assetEcrUrl: "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/sst-asset",
          state: "sst-state-mock",
          appsyncHttp: "",
          appsyncRealtime: "",
        };
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ id: 1, result, error: null }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as { port: number };
  return { url: `http://127.0.0.1:${address.port}`, server };
}

/** Values a mocked resource reports back, so that ARNs, names and addresses look real. */
function mockState(type: string, name: string, inputs: Json): Json {
  const arn = `arn:aws:${type.split(":")[1]?.split("/")[0] ?? "mock"}:ap-northeast-2:123456789012:${name}`;
  const state: Json = { ...inputs, arn, name: inputs.name ?? `${name}-mock` };
  switch (type) {
    case "aws:rds/instance:Instance":
      Object.assign(state, {
        arn: `arn:aws:rds:ap-northeast-2:123456789012:db:${name.toLowerCase()}-mock`,
        address: "database.mock.ap-northeast-2.rds.amazonaws.com",
        port: 5432,
        identifier: `${name.toLowerCase()}-mock`,
        resourceId: "db-MOCKRESOURCEID",
        masterUserSecrets: [
          {
            secretArn: "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:rds!db-mock",
          },
        ],
      });
      break;
    case "aws:rds/proxy:Proxy":
      Object.assign(state, {
        arn: "arn:aws:rds:ap-northeast-2:123456789012:db-proxy:prx-0mock0000000000000",
        endpoint: "proxy.proxy-mock.ap-northeast-2.rds.amazonaws.com",
        name: `${name.toLowerCase()}-mock`,
      });
      break;
    case "aws:ec2/eip:Eip":
      Object.assign(state, { publicIp: "203.0.113.10", allocationId: "eipalloc-0mock" });
      break;
    case "aws:kms/key:Key":
      Object.assign(state, {
        arn: "arn:aws:kms:ap-northeast-2:123456789012:key/mock-key",
        keyId: "mock-key",
      });
      break;
    case "aws:sqs/queue:Queue":
      Object.assign(state, {
        url: `https://sqs.ap-northeast-2.amazonaws.com/123456789012/${name}`,
      });
      break;
    case "aws:apigatewayv2/api:Api":
      Object.assign(state, {
        apiEndpoint: "https://api-mock.execute-api.ap-northeast-2.amazonaws.com",
        executionArn: "arn:aws:execute-api:ap-northeast-2:123456789012:api-mock",
      });
      break;
  }
  return state;
}

function mockCall(token: string, inputs: Json): Json {
  if (token.endsWith("getRegion"))
    return { name: "ap-northeast-2", region: "ap-northeast-2", id: "ap-northeast-2" };
  if (token.endsWith("getCallerIdentity")) {
    return {
      accountId: "123456789012",
      arn: "arn:aws:iam::123456789012:user/mock",
      userId: "mock",
    };
  }
  if (token.endsWith("getPartition")) return { partition: "aws", dnsSuffix: "amazonaws.com" };
  if (token.endsWith("getAvailabilityZones")) {
    return {
      names: ["ap-northeast-2a", "ap-northeast-2b", "ap-northeast-2c"],
      zoneIds: ["apne2-az1", "apne2-az2", "apne2-az3"],
    };
  }
  if (token.endsWith("getAmi")) return { id: "ami-0mock", architecture: "arm64" };
  if (token.includes("getPolicyDocument")) {
    return { json: JSON.stringify(inputs), statements: inputs.statements };
  }
  return {};
}

/**
 * Runs sst.config.ts's `app` and `run` for `stage` with `env` as the
 * deploying machine's environment, under Pulumi's mocks.
 */
export async function evaluateSstProgram(options: {
  stage: string;
  env?: Record<string, string>;
}): Promise<EvaluatedProgram> {
  const requireFromPlatform = createRequire(join(PLATFORM, "package.json"));
  const pulumi = requireFromPlatform("@pulumi/pulumi");
  const resources: MockResource[] = [];
  const builds: EvaluatedProgram["builds"] = [];
  const work = await mkdtemp(join(tmpdir(), "sst-program-"));
  const outDir = join(work, "build");
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, "index.mjs"), "export const handler = async () => {};\n");
  const { url, server } = await fakeSstServer(outDir, builds);
  const savedEnv = { ...process.env };
  const g = globalThis as Record<string, unknown>;
  try {
    Object.assign(process.env, options.env ?? {}, { SST_SERVER: url });
    pulumi.runtime.setMocks(
      {
        newResource(args: { type: string; name: string; inputs: Json }) {
          resources.push({ type: args.type, name: args.name, inputs: args.inputs });
          return { id: `${args.name}-id`, state: mockState(args.type, args.name, args.inputs) };
        },
        call(args: { token: string; inputs: Json }) {
          return mockCall(args.token, args.inputs);
        },
      },
      "securities-support",
      options.stage,
      false,
    );
    // The globals SST's CLI defines for the program (src/global.d.ts, src/shim/run.js).
    g.$app = {
      name: "securities-support",
      stage: options.stage,
      removal: "remove",
      providers: {},
      protect: false,
    };
    g.$cli = {
      command: "deploy",
      paths: { root: ROOT, work, platform: PLATFORM, home: work },
      state: { version: {} },
      home: "aws",
    };
    g.$dev = false;
    const shim = await import(pathToFileURL(join(PLATFORM, "src", "shim", "run.js")).href);
    for (const [name, value] of Object.entries(shim)) g[name] = value;
    g.sst = await import(pathToFileURL(join(PLATFORM, "src", "components", "index.ts")).href);
    g.aws = requireFromPlatform("@pulumi/aws");
    g.random = requireFromPlatform("@pulumi/random");

    const config = (await import(pathToFileURL(join(ROOT, "sst.config.ts")).href)).default as {
      app(input: { stage: string }): Promise<Json>;
      run(): Promise<Json>;
    };
    const app = await config.app({ stage: options.stage });
    (g.$app as Json).removal = app.removal;
    (g.$app as Json).protect = app.protect;
    const outputs = await config.run();
    const resolved: Json = {};
    for (const [key, value] of Object.entries(outputs)) {
      resolved[key] = await new Promise((resolve) => pulumi.output(value).apply(resolve));
    }
    // Let registrations started inside applies land.
    let count = -1;
    while (count !== resources.length) {
      count = resources.length;
      await new Promise((r) => setTimeout(r, 200));
    }
    return { resources, outputs: resolved, builds };
  } finally {
    server.close();
    for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
    Object.assign(process.env, savedEnv);
  }
}

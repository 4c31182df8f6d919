import { afterAll, beforeAll, expect, it } from "vitest";
import { runCli, spawnDevScript } from "../support/cli";
import { type RunningStart, startService } from "../support/start";

// The commands a developer runs in a second terminal, on the DATA_DIR of a
// running `npm start`: they use its embedded Postgres instead of starting
// another on the same (locked) cluster. npm start makes its own admin key here.
let service: RunningStart;

beforeAll(async () => {
  service = await startService(
    { LOG_LEVEL: "info", REFRESH_INTERVAL_SECONDS: "60" },
    { generateKey: true },
  );
}, 120_000);

afterAll(async () => {
  if (service) expect(await service.stop()).toBe(0);
}, 60_000);

const admin = () => ({ authorization: `Bearer ${service.key}` });

async function createKisAccount(): Promise<number> {
  const response = await fetch(`${service.url}/accounts`, {
    method: "POST",
    headers: { ...admin(), "content-type": "application/json" },
    body: JSON.stringify({
      name: "KIS paper",
      account_type: "SECURITIES_STOCK",
      exchange: "KIS",
      environment: "paper",
      api_key: `PS${Math.random().toString(36).slice(2)}`,
      api_secret: "sandbox-secret",
      securities_config: {
        account_number: "12345678",
        product_code: "01",
        market_type: "DOMESTIC_STOCK",
      },
    }),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { id: number }).id;
}

it("npm run migrate -- status reads the running npm start's database", async () => {
  const run = await runCli("migrate-cli.ts", ["status"], { DATA_DIR: service.dataDir });
  expect(run.output).toContain("using the running embedded Postgres (process ");
  expect(run.output).toMatch(/status on .*: ok/);
  expect(run.output).toMatch(/0001 \S+\s+applied/);
  expect(run.code).toBe(0);
});

it("npm run refresh runs once against the running npm start's database and prints plain counts", async () => {
  const run = await runCli("refresh-cli.ts", [], { DATA_DIR: service.dataDir });
  expect(run.output).toContain("refresh: using the running embedded Postgres");
  expect(run.output).toMatch(/claimed=\d+ .*approvalKeys\.due=\d+ approvalKeys\.issued=\d+/);
  expect(run.output).not.toContain("[object Object]");
  expect(run.code).toBe(0);
});

it("npm run keys -- rotate re-wraps the data keys of the running npm start's database", async () => {
  const run = await runCli("keys-cli.ts", ["rotate"], { DATA_DIR: service.dataDir });
  expect(run.output).toContain("the running embedded Postgres, process ");
  expect(run.output).toMatch(
    /rotate: \d+ of \d+ data keys re-wrapped, 0 changed meanwhile, 0 failed/,
  );
  expect(run.code).toBe(0);
});

it("npm start keeps serving after the commands, its database still up", async () => {
  const accounts = await fetch(`${service.url}/accounts`, { headers: admin() });
  expect(accounts.status).toBe(200);
});

it("a key made by npm run keys -- api create with broker:call calls the gateway", async () => {
  const id = await createKisAccount();
  const run = await runCli(
    "keys-cli.ts",
    ["api", "create", "--name", "trading", "--scopes", "accounts:read,tokens:read,broker:call"],
    { DATA_DIR: service.dataDir },
  );
  expect(run.code).toBe(0);
  const key = /^\s+(trading\.\S+)$/m.exec(run.output)?.[1];
  expect(key).toBeDefined();
  // npm start re-reads its key file every 5 s.
  const path =
    "/broker/uapi/domestic-stock/v1/quotations/inquire-price?FID_COND_MRKT_DIV_CODE=J&FID_INPUT_ISCD=005930";
  let answer: Response | undefined;
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
    answer = await fetch(`${service.url}/accounts/${id}${path}`, {
      headers: { authorization: `Bearer ${key}`, tr_id: "FHKST01010100" },
    });
    if (answer.status !== 401) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  expect(answer?.status).toBe(200);
  expect(await answer?.json()).toMatchObject({ rt_cd: "0" });
});

it("npm start prints the admin key and its curl line again, unchanged, after the first refresh run's line", () => {
  const output = service.output();
  const block = /\n( {2}Admin API key .*\n {2}Try .*\n)/.exec(output)?.[1];
  expect(block).toContain(service.key);
  const again = output.indexOf(block ?? "-", output.indexOf('"event":"refresh_run"'));
  expect(again).toBeGreaterThan(output.indexOf("Ctrl-C stops everything."));
});

it("npm run keys -- api show-admin prints the admin key npm start made, with the same curl line", async () => {
  const run = await runCli("keys-cli.ts", ["api", "show-admin"], { DATA_DIR: service.dataDir });
  expect(run.code).toBe(0);
  expect(run.output).toContain(`Admin API key   ${service.key}`);
  expect(run.output).toContain(
    `curl -H "Authorization: Bearer ${service.key}" ${service.url}/accounts`,
  );
});

it("at info, npm start prints one line for a request that issued and read a token", async () => {
  const id = await createKisAccount();
  const requestId = `one-line-${Date.now()}`;
  const response = await fetch(`${service.url}/accounts/${id}/token`, {
    headers: { ...admin(), "x-request-id": requestId },
  });
  expect(response.status).toBe(200);
  await new Promise((resolve) => setTimeout(resolve, 200));
  const lines = service
    .output()
    .split("\n")
    .filter((line) => line.includes(requestId));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain('"event":"request"');
});

it("a second npm start on the same DATA_DIR refuses in one sentence naming what runs", async () => {
  const second = spawnDevScript("start.ts", [], {
    ...process.env,
    DATABASE_URL: undefined,
    DATA_DIR: service.dataDir,
    PORT: "0",
  });
  let output = "";
  second.stdout.on("data", (chunk) => {
    output += String(chunk);
  });
  second.stderr.on("data", (chunk) => {
    output += String(chunk);
  });
  const code = await new Promise<number | null>((resolve) => second.on("exit", resolve));
  expect(output).toMatch(
    /npm start: the embedded Postgres under .* \(process \d+, port \d+\) is running already, most likely another npm start: stop it, or give this one another DATA_DIR\./,
  );
  expect(code).toBe(1);
});

import { afterAll, beforeAll, expect, it } from "vitest";
import { runCli, spawnDevScript } from "../support/cli";
import { type RunningStart, startService } from "../support/start";

// The commands a developer runs in a second terminal, on the DATA_DIR of a
// running `npm start`: they use its embedded Postgres instead of starting
// another on the same (locked) cluster.
let service: RunningStart;

beforeAll(async () => {
  service = await startService();
}, 120_000);

afterAll(async () => {
  if (service) expect(await service.stop()).toBe(0);
}, 60_000);

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
  expect(run.output).toMatch(/claimed=0 .*approvalKeys\.due=0 approvalKeys\.issued=0/);
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
  const accounts = await fetch(`${service.url}/accounts`, {
    headers: { authorization: `Bearer ${service.key}` },
  });
  expect(accounts.status).toBe(200);
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

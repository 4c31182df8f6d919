import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { mockClient } from "aws-sdk-client-mock";
import "aws-sdk-client-mock-vitest/extend";
import { afterEach, beforeEach, expect, test } from "vitest";
import { generateApiKey, hashApiKeySecret, matchApiKey, parseApiKeyStore } from "../../core/auth";
import { runApiKeysCommand, UsageError } from "../../dev/api-keys-cli";

const SECRET_ID = "arn:aws:secretsmanager:ap-northeast-2:111122223333:secret:api-keys-AbCdEf";
const secretsManager = mockClient(SecretsManagerClient);
let dataDir = "";
let printed: string[] = [];

beforeEach(async () => {
  secretsManager.reset();
  dataDir = await mkdtemp(join(tmpdir(), "securities-support-keys-"));
  printed = [];
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

function run(...argv: string[]) {
  return runApiKeysCommand(argv, {
    dataDir,
    env: {},
    print: (line) => printed.push(line),
    secretsManager: new SecretsManagerClient({ region: "ap-northeast-2" }),
  });
}

const printedKey = () =>
  printed.map((line) => line.trim()).find((line) => /^\w+\.\S{40,}$/.test(line));

test("api create stores only the new key's hash in DATA_DIR's key file (mode 0600) and prints the key once", async () => {
  expect(await run("create", "--name", "trading", "--scopes", "accounts:read,broker:call")).toBe(0);
  const key = printedKey();
  expect(key).toMatch(/^trading\./);
  const text = await readFile(join(dataDir, "api-keys.json"), "utf8");
  expect(text).not.toContain(key?.split(".")[1]);
  const records = parseApiKeyStore(text, "the file");
  expect(matchApiKey(records, key ?? "")?.scopes).toEqual(["accounts:read", "broker:call"]);
  expect((await stat(join(dataDir, "api-keys.json"))).mode & 0o777).toBe(0o600);
  expect(printed.filter((line) => line.includes(key ?? "-"))).toHaveLength(1);
});

test("api create refuses an unknown scope, naming it and the valid ones, and writes nothing", async () => {
  await expect(
    run("create", "--name", "trading", "--scopes", "accounts:read,broker:cal"),
  ).rejects.toThrow(
    'Unknown scope "broker:cal": the scopes are accounts:read, accounts:write, tokens:read, tokens:write, broker:call, stream:read, admin.',
  );
  await expect(stat(join(dataDir, "api-keys.json"))).rejects.toThrow(/ENOENT/);
});

test("api create refuses a name that is taken", async () => {
  await run("create", "--name", "trading", "--scopes", "accounts:read");
  await expect(run("create", "--name", "trading", "--scopes", "admin")).rejects.toThrow(
    "There is a key named trading already",
  );
});

test("api create without --scopes is a usage error", async () => {
  await expect(run("create", "--name", "trading")).rejects.toBeInstanceOf(UsageError);
});

test("api list names each key and its scopes, never a hash", async () => {
  await run("create", "--name", "trading", "--scopes", "accounts:read,tokens:read");
  printed = [];
  expect(await run("list")).toBe(0);
  expect(printed.join("\n")).toMatch(/trading\s+accounts:read,tokens:read/);
  expect(printed.join("\n")).not.toContain("sha256:");
});

test("api remove takes the key out of the file", async () => {
  await run("create", "--name", "trading", "--scopes", "accounts:read");
  await run("create", "--name", "ops", "--scopes", "admin");
  expect(await run("remove", "trading")).toBe(0);
  const records = parseApiKeyStore(await readFile(join(dataDir, "api-keys.json"), "utf8"), "f");
  expect(records.map((record) => record.id)).toEqual(["ops"]);
});

test("api create --secret-id writes the secret with the key's hash only, beside the keys it held", async () => {
  const existing = generateApiKey("ops", ["admin"]);
  secretsManager
    .on(GetSecretValueCommand)
    .resolves({ SecretString: JSON.stringify({ keys: [existing.record] }) });
  secretsManager.on(PutSecretValueCommand).resolves({});
  expect(
    await run(
      "create",
      "--secret-id",
      SECRET_ID,
      "--name",
      "trading",
      "--scopes",
      "accounts:read,tokens:read,broker:call",
    ),
  ).toBe(0);
  const key = printedKey() ?? "";
  expect(secretsManager).toHaveReceivedCommandWith(GetSecretValueCommand, { SecretId: SECRET_ID });
  const written = secretsManager.commandCalls(PutSecretValueCommand)[0]?.args[0].input;
  expect(written?.SecretId).toBe(SECRET_ID);
  const records = parseApiKeyStore(written?.SecretString ?? "", "the secret");
  expect(records.map((record) => record.id)).toEqual(["ops", "trading"]);
  expect(records[1]?.hash).toBe(hashApiKeySecret(key.split(".")[1] ?? ""));
  expect(written?.SecretString).not.toContain(key.split(".")[1]);
  // Nothing local was touched.
  await expect(stat(join(dataDir, "api-keys.json"))).rejects.toThrow(/ENOENT/);
});

test("api create --secret-id on the empty secret the stack creates starts its first key list", async () => {
  secretsManager.on(GetSecretValueCommand).rejects(
    Object.assign(
      new Error(
        "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT",
      ),
      {
        name: "ResourceNotFoundException",
        $metadata: {},
      },
    ),
  );
  secretsManager.on(PutSecretValueCommand).resolves({});
  expect(
    await run("create", "--secret-id", SECRET_ID, "--name", "trading", "--scopes", "broker:call"),
  ).toBe(0);
  const written = secretsManager.commandCalls(PutSecretValueCommand)[0]?.args[0].input;
  expect(parseApiKeyStore(written?.SecretString ?? "", "s").map((r) => r.id)).toEqual(["trading"]);
});

test("api remove --secret-id writes the secret without the key", async () => {
  const keys = [generateApiKey("ops", ["admin"]), generateApiKey("trading", ["broker:call"])];
  secretsManager
    .on(GetSecretValueCommand)
    .resolves({ SecretString: JSON.stringify({ keys: keys.map((k) => k.record) }) });
  secretsManager.on(PutSecretValueCommand).resolves({});
  expect(await run("remove", "trading", "--secret-id", SECRET_ID)).toBe(0);
  const written = secretsManager.commandCalls(PutSecretValueCommand)[0]?.args[0].input;
  expect(parseApiKeyStore(written?.SecretString ?? "", "s").map((r) => r.id)).toEqual(["ops"]);
});

test("api show-admin says where the admin key is when npm start did not make one here", async () => {
  expect(await run("show-admin")).toBe(1);
  expect(printed.join("\n")).toContain("No admin key was kept in");
});

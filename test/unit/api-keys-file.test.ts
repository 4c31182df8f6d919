import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import { generateApiKey } from "../../core/auth";
import { openLocalApiKeys, readLocalKeys, writeLocalKeys } from "../../dev/api-keys-file";

let dataDir = "";
beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "securities-support-keys-file-"));
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

test("a later npm start gets the admin key the first one generated, kept in DATA_DIR (mode 0600)", async () => {
  const first = await openLocalApiKeys({ dataDir });
  expect(first.createdKey).toMatch(/^local-admin\./);
  const later = await openLocalApiKeys({ dataDir });
  expect(later.createdKey).toBeUndefined();
  expect(later.adminKey).toBe(first.createdKey);
  expect((await stat(join(dataDir, "admin-api-key"))).mode & 0o777).toBe(0o600);
});

test("a kept admin key whose record was removed is not offered again", async () => {
  await openLocalApiKeys({ dataDir });
  const ops = generateApiKey("ops", ["admin"]);
  await writeLocalKeys(dataDir, [ops.record]);
  const later = await openLocalApiKeys({ dataDir });
  expect(later.adminKey).toBeUndefined();
  expect(later.adminKeyId).toBe("ops");
});

test("keys made with the CLI before the first start get an admin key beside them", async () => {
  const trading = generateApiKey("trading", ["broker:call"]);
  await writeLocalKeys(dataDir, [trading.record]);
  const opened = await openLocalApiKeys({ dataDir });
  expect(opened.createdKey).toMatch(/^local-admin\./);
  expect((await readLocalKeys(dataDir)).map((key) => key.id)).toEqual(["trading", "local-admin"]);
});

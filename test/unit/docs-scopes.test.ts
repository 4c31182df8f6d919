import { readFile } from "node:fs/promises";
import { expect, test } from "vitest";
import { scopeTable, withScopeTable } from "../../dev/docs-scopes";
import { SCOPE_TABLE_DOCS } from "../../dev/openapi-cli";

test.each(SCOPE_TABLE_DOCS)(
  "%s holds the scope table generated from the code's own scopes",
  async (path) => {
    const markdown = await readFile(path, "utf8");
    expect(markdown).toBe(withScopeTable(markdown, path));
  },
);

test("the scope table gives broker:call the gateway's routes and the order resource", () => {
  const row = scopeTable()
    .split("\n")
    .find((line) => line.startsWith("| `broker:call`"));
  expect(row?.split(/(?<!\\)\|/).map((cell) => cell.trim())).toEqual([
    "",
    "`broker:call`",
    "call the account's broker through the gateway",
    "`GET\\|POST /accounts/{id}/broker/{broker_path}`, `GET /accounts/{id}/orders/{key}`",
    "",
  ]);
});

test("docs/deploy.md's sample trading-server key can call the gateway", async () => {
  const deploy = await readFile(SCOPE_TABLE_DOCS[1] ?? "", "utf8");
  expect(deploy).toMatch(/--name trading-web --scopes accounts:read,tokens:read,broker:call/);
});

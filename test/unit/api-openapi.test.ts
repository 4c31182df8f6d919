import { readFile } from "node:fs/promises";
import { brotliDecompressSync } from "node:zlib";
import { expect, it } from "vitest";
import { buildOpenApiDocument } from "../../core/api";
import { OPENAPI_DOCUMENT_BROTLI } from "../../core/api/openapi-document";
import { OPENAPI_JSON_PATH, openApiJson } from "../../dev/openapi-cli";

const STALE = "run `npm run openapi` when this fails";

it(`the committed openapi.json is the document the schemas produce today (${STALE})`, async () => {
  expect(await readFile(OPENAPI_JSON_PATH, "utf8")).toBe(openApiJson());
});

it(`the API serves openapi.json's document (${STALE})`, async () => {
  const served = JSON.parse(
    brotliDecompressSync(Buffer.from(OPENAPI_DOCUMENT_BROTLI, "base64")).toString("utf8"),
  );
  expect(served).toEqual(JSON.parse(await readFile(OPENAPI_JSON_PATH, "utf8")));
});

/** Every `$ref` in the document, with the JSON pointer it names resolved against the document. */
function refs(node: unknown, found: string[] = []): string[] {
  if (Array.isArray(node)) for (const item of node) refs(item, found);
  else if (node && typeof node === "object") {
    for (const [key, value] of Object.entries(node)) {
      if (key === "$ref" && typeof value === "string") found.push(value);
      else refs(value, found);
    }
  }
  return found;
}

it("every $ref points into components/schemas and resolves there; no schema carries $defs", () => {
  const document = buildOpenApiDocument();
  const text = JSON.stringify(document);
  expect(text).not.toContain("$defs");
  expect(text).not.toContain('"$id"');
  const all = refs(document);
  expect(all.length).toBeGreaterThan(10);
  const schemas = document.components.schemas as Record<string, unknown>;
  for (const ref of all) {
    expect(ref).toMatch(/^#\/components\/schemas\/[A-Za-z]+$/);
    expect(schemas[ref.slice("#/components/schemas/".length)], ref).toBeDefined();
  }
});

it("the account schema is one component that the list, the create and the read all reference", () => {
  const document = buildOpenApiDocument();
  const list = document.components.schemas.AccountList as { properties: { accounts: unknown } };
  expect(list.properties.accounts).toEqual({
    type: "array",
    items: {
      anyOf: [
        { $ref: "#/components/schemas/Account" },
        { $ref: "#/components/schemas/UnreadableAccount" },
      ],
    },
  });
  const post = JSON.parse(JSON.stringify(document.paths["/accounts"]?.post));
  expect(post.responses["201"].content["application/json"].schema).toEqual({
    $ref: "#/components/schemas/Account",
  });
  expect(post.requestBody.content["application/json"].schema).toEqual({
    $ref: "#/components/schemas/CreateAccountRequest",
  });
});

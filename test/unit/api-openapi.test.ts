import { readFile } from "node:fs/promises";
import { expect, it } from "vitest";
import { type ApiTokenService, buildOpenApiDocument, createApp } from "../../core/api";
import { createAuthenticator } from "../../core/auth";
import type { Cipher } from "../../core/crypto";
import type { Sql } from "../../core/db";
import type { BrokerGateway } from "../../core/gateway";
import { silentLogger } from "../../core/log";
import {
  OPENAPI_JSON_PATH,
  OPENAPI_TYPES_PATH,
  openApiJson,
  openApiTypes,
} from "../../dev/openapi-cli";

const STALE = "run `npm run openapi` when this fails";

it(`the committed openapi.json is the document the schemas produce today (${STALE})`, async () => {
  expect(await readFile(OPENAPI_JSON_PATH, "utf8")).toBe(openApiJson());
});

it(`the committed client types are what openapi-typescript generates from openapi.json (${STALE})`, async () => {
  const generated = await openApiTypes(await readFile(OPENAPI_JSON_PATH, "utf8"));
  expect(generated).toContain('"/accounts/{id}/token"');
  expect(await readFile(OPENAPI_TYPES_PATH, "utf8")).toBe(generated);
});

function app(openApiDocument?: () => Promise<string>) {
  return createApp({
    sql: {} as Sql,
    cipher: {} as Cipher,
    tokens: {} as ApiTokenService,
    gateway: {} as BrokerGateway,
    auth: createAuthenticator({ description: "none", keys: async () => [] }),
    logger: silentLogger,
    version: "9.9.9",
    ...(openApiDocument ? { openApiDocument } : {}),
  });
}

it("the API serves openapi.json's document, with its own version, reading the file once", async () => {
  let reads = 0;
  const served = app(() => {
    reads++;
    return readFile(OPENAPI_JSON_PATH, "utf8");
  });
  const first = await served.request("/openapi.json");
  await served.request("/openapi.json");
  const expected = JSON.parse(await readFile(OPENAPI_JSON_PATH, "utf8"));
  expected.info.version = "9.9.9";
  expect(first.status).toBe(200);
  expect(await first.json()).toEqual(expected);
  expect(reads).toBe(1);
});

it("a file that cannot be read is retried on the next request, not cached as a failure", async () => {
  let attempts = 0;
  const served = app(async () => {
    attempts++;
    if (attempts === 1) throw new Error("ENOENT: openapi.json");
    return readFile(OPENAPI_JSON_PATH, "utf8");
  });
  expect((await served.request("/openapi.json")).status).toBe(500);
  expect((await served.request("/openapi.json")).status).toBe(200);
});

it("without a document to serve, GET /openapi.json is a 404 problem saying so", async () => {
  const response = await app().request("/openapi.json");
  expect(response.status).toBe(404);
  expect(((await response.json()) as { detail: string }).detail).toMatch(/no OpenAPI document/);
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

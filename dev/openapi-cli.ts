/**
 * `npm run openapi`: writes openapi.json, the OpenAPI document built from the
 * zod schemas and the route docs (core/api/openapi.ts). It is the contract
 * clients generate from, and the file the API serves: the deploy copies it
 * beside the Lambda bundle (infra/runtime.ts), so neither the document nor
 * zod's JSON Schema generator weighs on the function's 150 KB.
 *
 * `npm run openapi -- --check` writes nothing and exits 1 when the file is
 * stale; test/unit/api-openapi.test.ts checks the same.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { buildOpenApiDocument } from "../core/api/openapi";

export const OPENAPI_JSON_PATH = join(import.meta.dirname, "..", "openapi.json");

/** openapi.json's text: two-space JSON with a final newline. */
export function openApiJson(): string {
  return `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const json = openApiJson();
  if (process.argv.includes("--check")) {
    const current = await readFile(OPENAPI_JSON_PATH, "utf8").catch(() => "");
    if (current !== json) {
      console.error(`${OPENAPI_JSON_PATH} is stale: run \`npm run openapi\``);
      process.exit(1);
    }
    process.exit(0);
  }
  await writeFile(OPENAPI_JSON_PATH, json);
  console.log(`wrote ${OPENAPI_JSON_PATH}`);
}

import { brotliDecompressSync } from "node:zlib";
import { expect, it } from "vitest";
import { buildOpenApiDocument } from "../../core/api";
import { OPENAPI_DOCUMENT_BROTLI } from "../../core/api/openapi-document";

it("serves the OpenAPI document the schemas produce today (run `npm run openapi` when this fails)", () => {
  const served = JSON.parse(
    brotliDecompressSync(Buffer.from(OPENAPI_DOCUMENT_BROTLI, "base64")).toString("utf8"),
  );
  expect(served).toEqual(buildOpenApiDocument());
});

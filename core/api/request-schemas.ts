/**
 * Request bodies the app parses (besides the accounts', in core/accounts).
 * Apart from schemas.ts so that the response schemas, needed only for the
 * OpenAPI document, stay out of the Lambda bundle.
 */
import * as z from "zod/mini";

export const invalidateRequestSchema = z.strictObject({
  access_token: z.optional(
    z
      .string({ error: "must be a string" })
      .check(
        z.minLength(1, "must not be empty"),
        z.maxLength(4096, "must be at most 4096 characters"),
      ),
  ),
});
// Its OpenAPI id and description are attached by openapi.ts: metadata for the
// document, which is built outside the Lambda bundle.

/**
 * Request schemas the API parses at run time, apart from the response
 * schemas (./schemas), which only the OpenAPI generator and the tests need:
 * the Lambda bundle carries this module, not those.
 */
import * as z from "zod/mini";

export const invalidateRequestSchema = z
  .strictObject({
    access_token: z.optional(
      z
        .string({ error: "must be a string" })
        .check(
          z.minLength(1, "must not be empty"),
          z.maxLength(4096, "must be at most 4096 characters"),
        ),
    ),
  })
  .check(
    z.meta({
      id: "InvalidateRequest",
      description:
        "Optional. With access_token, only that token is invalidated (a stale report about an older token changes nothing).",
    }),
  );

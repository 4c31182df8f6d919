import { createHash } from "node:crypto";
import { ValidationError } from "../errors";

/** 1–255 visible ASCII characters (no spaces or controls). */
const KEY = /^[\x21-\x7e]{1,255}$/;

/** The caller's Idempotency-Key, or a 400 naming the rule. */
export function idempotencyKey(value: string | undefined): string {
  if (value === undefined || !KEY.test(value)) {
    throw new ValidationError([
      {
        field: "Idempotency-Key",
        message:
          value === undefined
            ? "is required on an order path: send 1–255 visible ASCII characters, the same for every retry of one order"
            : "must be 1–255 visible ASCII characters (no spaces)",
      },
    ]);
  }
  return value;
}

/** What makes two requests "the same order": method, broker path and query, transaction id, body. */
export function requestHash(parts: {
  method: string;
  path: string;
  query: string;
  transactionId: string | undefined;
  body: string | undefined;
}): string {
  return createHash("sha256")
    .update(
      JSON.stringify([
        parts.method,
        parts.path,
        parts.query,
        parts.transactionId ?? "",
        parts.body ?? "",
      ]),
    )
    .digest("base64url");
}

/**
 * GET /accounts' query parameters. Each is given at most once; a repeated or
 * malformed one is a 400 naming it.
 */
import { ACCOUNT_TYPES, type AccountType } from "../accounts";
import { ValidationError } from "../errors";
import { MAX_ACCOUNT_ID } from "./request";

/** GET /accounts pages: `?limit=` defaults to this and may not exceed MAX_PAGE_SIZE. */
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 500;

/** `?limit=`: accounts per page. */
export function limitQuery(values: string[] | undefined): number {
  if (!values || values.length === 0) return DEFAULT_PAGE_SIZE;
  const [raw] = values;
  if (
    values.length > 1 ||
    !/^[1-9][0-9]{0,2}$/.test(raw as string) ||
    Number(raw) > MAX_PAGE_SIZE
  ) {
    throw new ValidationError([
      { field: "limit", message: `must be a whole number from 1 to ${MAX_PAGE_SIZE}, given once` },
    ]);
  }
  return Number(raw);
}

/** The cursor is opaque to callers (today the last id of the page, base64url). */
export function encodeCursor(afterId: number): string {
  return Buffer.from(`a${afterId}`).toString("base64url");
}

/** `?cursor=`: the id after which the page starts; only a cursor encodeCursor made is accepted. */
export function cursorQuery(values: string[] | undefined): number | undefined {
  if (!values || values.length === 0) return undefined;
  const [raw] = values;
  const decoded = Buffer.from(raw as string, "base64url").toString("latin1");
  const id = Number(decoded.slice(1));
  if (
    values.length > 1 ||
    !/^a[1-9][0-9]{0,9}$/.test(decoded) ||
    id > MAX_ACCOUNT_ID ||
    encodeCursor(id) !== raw
  ) {
    throw new ValidationError([
      { field: "cursor", message: "must be a next_cursor this API returned, given once" },
    ]);
  }
  return id;
}

/** `?type=`: only accounts of this account type. */
export function accountTypeQuery(values: string[] | undefined): AccountType | undefined {
  if (!values || values.length === 0) return undefined;
  const [value] = values;
  if (values.length > 1 || !(ACCOUNT_TYPES as readonly string[]).includes(value as string)) {
    throw new ValidationError([
      { field: "type", message: `must be one of ${ACCOUNT_TYPES.join(", ")}, given once` },
    ]);
  }
  return value as AccountType;
}

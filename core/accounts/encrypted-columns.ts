import type { EncryptedColumn } from "../crypto";

/**
 * Every column that holds ciphertext, with the column whose value is the
 * binding's rowId (always the account id). `keys rewrap` walks this list and
 * the dump test checks it; a new encrypted column must be added here.
 */
export const ENCRYPTED_COLUMNS: readonly EncryptedColumn[] = [
  // The legacy crypto system wrote these in plaintext; they stay readable as they are.
  { table: "accounts", column: "api_key", rowIdColumn: "id", legacyPlaintext: true },
  { table: "accounts", column: "api_secret", rowIdColumn: "id", legacyPlaintext: true },
  { table: "accounts", column: "securities_config", rowIdColumn: "id" },
  // The legacy readers' mirror of the current token (written by the token store).
  { table: "accounts", column: "access_token", rowIdColumn: "id" },
  // One row per account (UNIQUE account_id): bound to the account id, not the token row id.
  { table: "securities_tokens", column: "access_token", rowIdColumn: "account_id" },
];

/** The binding of an account's secret in `accounts` (api_key, api_secret, securities_config, access_token). */
export function accountBinding(
  column: "api_key" | "api_secret" | "securities_config" | "access_token",
  accountId: number,
) {
  return { table: "accounts", column, rowId: accountId };
}

/** The binding of an account's token in `securities_tokens`. */
export function tokenBinding(accountId: number) {
  return { table: "securities_tokens", column: "access_token", rowId: accountId };
}

import { InvalidEncryptionInputError, MalformedCiphertextError } from "./errors";

/**
 * The ciphertext text stored in TEXT columns:
 *
 *     v1.<dataKeyId>.<base64url(iv ‖ ciphertext ‖ tag)>
 *
 * - `v1`: format version; AES-256-GCM, 12-byte random IV, 16-byte tag.
 * - `dataKeyId`: decimal id of the row in `data_keys` whose key encrypted it.
 * - the body: unpadded base64url of the IV, the GCM ciphertext and the tag.
 *
 * Fixed overhead is 43 characters for a one-digit data key id plus the
 * base64 expansion of the plaintext (a third of its UTF-8 length).
 *
 * Recognising legacy plaintext: a value is ours exactly when it starts with
 * `v<digits>.`; anything else is a value written before this service
 * encrypted the column (the legacy system's exchange API keys are bare
 * alphanumeric strings). A value that starts like ours but does not parse is
 * reported as malformed, never passed through as plaintext.
 */
export const FORMAT_VERSION = "v1";
export const IV_BYTES = 12;
export const TAG_BYTES = 16;

const VERSION_PREFIX = /^v[0-9]+\./;
const V1 = /^v1\.([1-9][0-9]{0,14})\.([A-Za-z0-9_-]+)$/;
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** Where a ciphertext lives; it decrypts only there. */
export interface CipherBinding {
  table: string;
  column: string;
  /** The row's account id (accounts.id, securities_tokens.account_id). */
  rowId: number;
}

export interface ParsedCiphertext {
  dataKeyId: number;
  iv: Buffer;
  body: Buffer;
  tag: Buffer;
}

/** True when the value is in our ciphertext format (or claims to be: see above). */
export function isCiphertext(value: string): boolean {
  return VERSION_PREFIX.test(value);
}

/** The data key id a ciphertext names, or undefined for legacy plaintext and unparseable values. */
export function dataKeyIdOf(value: string): number | undefined {
  const match = V1.exec(value);
  return match ? Number(match[1]) : undefined;
}

export function formatCiphertext(dataKeyId: number, iv: Buffer, body: Buffer, tag: Buffer): string {
  return `${FORMAT_VERSION}.${dataKeyId}.${Buffer.concat([iv, body, tag]).toString("base64url")}`;
}

/** Parses a ciphertext strictly: any byte changed outside the GCM-protected part fails here. */
export function parseCiphertext(value: string, binding: CipherBinding): ParsedCiphertext {
  const where = describe(binding);
  const match = V1.exec(value);
  if (!match) {
    const version = VERSION_PREFIX.exec(value)?.[0].slice(0, -1);
    throw new MalformedCiphertextError(
      version && version !== FORMAT_VERSION
        ? `ciphertext for ${where} has unsupported format version ${version.slice(0, 12)}`
        : `ciphertext for ${where} is malformed (truncated or altered)`,
    );
  }
  const encoded = match[2] as string;
  const bytes = Buffer.from(encoded, "base64url");
  // Buffer.from ignores unused trailing bits: insist on the canonical encoding
  // so that a changed last character cannot decode to the same bytes.
  if (bytes.length < IV_BYTES + TAG_BYTES || bytes.toString("base64url") !== encoded) {
    throw new MalformedCiphertextError(
      `ciphertext for ${where} is malformed (truncated or altered)`,
    );
  }
  return {
    dataKeyId: Number(match[1]),
    iv: bytes.subarray(0, IV_BYTES),
    body: bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES),
    tag: bytes.subarray(bytes.length - TAG_BYTES),
  };
}

/**
 * The authenticated data: format version, data key id, table, column and row
 * id. Identifiers are restricted so that no two bindings encode alike.
 */
export function additionalData(dataKeyId: number, binding: CipherBinding): Buffer {
  return Buffer.from(
    `${FORMAT_VERSION}|${dataKeyId}|${binding.table}|${binding.column}|${binding.rowId}`,
  );
}

export function checkBinding(binding: CipherBinding): void {
  if (!IDENTIFIER.test(binding.table) || !IDENTIFIER.test(binding.column)) {
    throw new InvalidEncryptionInputError(
      "cipher binding table and column must be lower-case SQL identifiers",
    );
  }
  if (!Number.isSafeInteger(binding.rowId) || binding.rowId < 1) {
    throw new InvalidEncryptionInputError(
      `cipher binding for ${binding.table}.${binding.column} needs a positive integer row id`,
    );
  }
}

export function describe(binding: CipherBinding): string {
  return `${binding.table}.${binding.column} of row ${binding.rowId}`;
}

import type { Sql } from "../db";
import type { Cipher } from "./cipher";
import { listDataKeys, type StoredDataKey } from "./data-keys";
import { dataKeyIdOf } from "./format";
import type { KeyProvider } from "./key-provider";

/** One encrypted column: its ciphertexts are bound to {table, column, rowId: <rowIdColumn>}. */
export interface EncryptedColumn {
  table: string;
  column: string;
  /** A unique integer column whose value is the binding's rowId, also used to page through the table. */
  rowIdColumn: string;
  /** The legacy system may have written plaintext here (crypto accounts' api_key/api_secret). */
  legacyPlaintext?: boolean;
}

export interface RotateMasterKeyResult {
  dataKeys: number;
  rewrapped: number;
  /** Data keys changed by someone else during the run (left as they were). */
  changed: number;
  /** Ids of data keys that could not be re-wrapped, with the error's message. */
  failed: Array<{ id: number; message: string }>;
}

/**
 * Re-wraps every data key under the provider's current master key (KMS
 * ReEncrypt; locally unwrap with a configured older key and wrap with the
 * current one). Rows are untouched: their ciphertexts name data keys, not
 * master keys.
 */
export async function rotateMasterKey(options: {
  sql: Sql;
  keys: KeyProvider;
  onProgress?: (done: number, total: number) => void;
}): Promise<RotateMasterKeyResult> {
  const { sql, keys } = options;
  const all: StoredDataKey[] = await listDataKeys(sql);
  const result: RotateMasterKeyResult = {
    dataKeys: all.length,
    rewrapped: 0,
    changed: 0,
    failed: [],
  };
  let done = 0;
  for (const key of all) {
    try {
      const next = await keys.rewrapDataKey(key);
      const updated = await sql`
        UPDATE data_keys SET master_key_id = ${next.masterKeyId}, wrapped_key = ${next.wrapped}, rewrapped_at = now()
        WHERE id = ${key.id} AND wrapped_key = ${key.wrapped}`;
      if (updated.count === 1) result.rewrapped++;
      else result.changed++;
    } catch (error) {
      result.failed.push({
        id: key.id,
        message: error instanceof Error ? error.message : String(error),
      });
    }
    options.onProgress?.(++done, all.length);
  }
  return result;
}

export interface RewrapProgress {
  table: string;
  column: string;
  /** The last row id handled in this column. */
  lastRowId: number;
  scanned: number;
  rewrapped: number;
}

export interface RewrapResult {
  /** Rows under data keys with ids at or above this were left alone; pass it again to resume. */
  belowDataKeyId: number;
  scanned: number;
  rewrapped: number;
  /** Legacy plaintext values encrypted (only with migrateLegacyPlaintext). */
  legacyMigrated: number;
  /** Legacy plaintext values left as they are. */
  legacySkipped: number;
  /** Rows changed by the service during the run; already under a current key. */
  changed: number;
  /** Rows that failed to decrypt or update: "table.column#rowId: message" (never a value). */
  failed: string[];
}

/**
 * Re-encrypts every value of the given columns that was made with a data key
 * older than `belowDataKeyId` (default: every data key that exists when the
 * run starts) under the cipher's data key, which should be fresh (a new
 * cipher). Safe while the service runs: rows are read in batches by row id
 * and each update is a compare-and-set on the old value, so a concurrent
 * write wins. Resumable: running it again with the same `belowDataKeyId`
 * skips rows already done.
 */
export async function rewrapRows(options: {
  sql: Sql;
  cipher: Cipher;
  columns: readonly EncryptedColumn[];
  belowDataKeyId?: number;
  migrateLegacyPlaintext?: boolean;
  batchSize?: number;
  onProgress?: (progress: RewrapProgress) => void;
}): Promise<RewrapResult> {
  const { sql, cipher } = options;
  const batchSize = options.batchSize ?? 500;
  const below =
    options.belowDataKeyId ??
    Number(
      (await sql<{ next: string }[]>`SELECT coalesce(max(id), 0) + 1 AS next FROM data_keys`)[0]
        ?.next ?? 1,
    );
  const result: RewrapResult = {
    belowDataKeyId: below,
    scanned: 0,
    rewrapped: 0,
    legacyMigrated: 0,
    legacySkipped: 0,
    changed: 0,
    failed: [],
  };

  for (const target of options.columns) {
    const table = sql(target.table);
    const column = sql(target.column);
    const rowIdColumn = sql(target.rowIdColumn);
    let lastRowId = 0;
    let scanned = 0;
    let rewrapped = 0;
    for (;;) {
      const rows = await sql<{ row_id: number; value: string }[]>`
        SELECT ${rowIdColumn}::int AS row_id, ${column} AS value FROM ${table}
        WHERE ${rowIdColumn} > ${lastRowId} AND ${column} IS NOT NULL
        ORDER BY ${rowIdColumn} LIMIT ${batchSize}`;
      for (const row of rows) {
        lastRowId = row.row_id;
        scanned++;
        const binding = { table: target.table, column: target.column, rowId: row.row_id };
        const legacy = !cipher.isCiphertext(row.value);
        if (legacy && !(target.legacyPlaintext && options.migrateLegacyPlaintext)) {
          if (target.legacyPlaintext) result.legacySkipped++;
          else result.failed.push(`${target.table}.${target.column}#${row.row_id}: not encrypted`);
          continue;
        }
        if (!legacy && (dataKeyIdOf(row.value) ?? 0) >= below) continue;
        try {
          const plaintext = await cipher.decrypt(row.value, binding, {
            allowLegacyPlaintext: legacy,
          });
          const next = await cipher.encrypt(plaintext, binding);
          const updated = await sql`
            UPDATE ${table} SET ${column} = ${next}
            WHERE ${rowIdColumn} = ${row.row_id} AND ${column} = ${row.value}`;
          if (updated.count === 0) result.changed++;
          else if (legacy) result.legacyMigrated++;
          else rewrapped++;
        } catch (error) {
          result.failed.push(
            `${target.table}.${target.column}#${row.row_id}: ${error instanceof Error ? error.message : String(error)}`,
          );
        }
      }
      options.onProgress?.({
        table: target.table,
        column: target.column,
        lastRowId,
        scanned,
        rewrapped,
      });
      if (rows.length < batchSize) break;
    }
    result.scanned += scanned;
    result.rewrapped += rewrapped;
  }
  return result;
}

/**
 * How long past DATA_KEY_MAX_AGE a data key must be before it is retired,
 * and how long it stays retired before it is deleted: a write that took its
 * data key just before the key's age ran out (a slow request, a Lambda
 * frozen mid-request and thawed later, a retried transaction) still commits
 * within hours, not days.
 */
export const DATA_KEY_RETIRE_MARGIN_MS = 6 * 60 * 60 * 1000;

export interface RetireDataKeysResult {
  /** Marked retired by this run (unreferenced and old enough); deleted by a later run. */
  retired: number[];
  /** Deleted by this run: retired by an earlier run at least the margin ago, and still unreferenced. */
  deleted: number[];
  /** Were retired, but a ciphertext names them again: the mark was taken back. */
  restored: number[];
  /** Data keys left in the table. */
  kept: number;
}

/**
 * Deletes data keys no ciphertext in the given columns names, in two steps
 * so that no key a write in flight could still use is ever deleted:
 * 1. a key that nothing names and whose `created_at` (the database's clock,
 *    not this machine's) is older than `maxDataKeyAgeMs` plus `marginMs` is
 *    marked retired: no process encrypts with a key past its max age;
 * 2. a later run deletes a key retired at least `marginMs` before, if still
 *    nothing names it; one that is named again is restored instead.
 */
export async function retireUnusedDataKeys(options: {
  sql: Sql;
  columns: readonly EncryptedColumn[];
  maxDataKeyAgeMs: number;
  marginMs?: number;
}): Promise<RetireDataKeysResult> {
  const { sql } = options;
  const marginSeconds = (options.marginMs ?? DATA_KEY_RETIRE_MARGIN_MS) / 1000;
  const retireAfterSeconds = options.maxDataKeyAgeMs / 1000 + marginSeconds;
  const referenced = async (): Promise<number[]> => {
    const ids = new Set<number>();
    for (const target of options.columns) {
      const rows = await sql<{ id: string }[]>`
        SELECT DISTINCT split_part(${sql(target.column)}, '.', 2) AS id FROM ${sql(target.table)}
        WHERE ${sql(target.column)} LIKE 'v1.%'`;
      for (const row of rows) if (/^[0-9]+$/.test(row.id)) ids.add(Number(row.id));
    }
    return [...ids];
  };
  const ids = (rows: { id: string }[]) => rows.map((row) => Number(row.id)).sort((a, b) => a - b);

  const named = await referenced();
  const restored = await sql<{ id: string }[]>`
    UPDATE data_keys SET retired_at = NULL
    WHERE retired_at IS NOT NULL AND id = ANY(${named}::bigint[])
    RETURNING id`;
  // Step 2 first, so a key this run retires is never deleted by the same run.
  const deleted = await sql<{ id: string }[]>`
    DELETE FROM data_keys
    WHERE retired_at IS NOT NULL
      AND retired_at < clock_timestamp() - make_interval(secs => ${marginSeconds})
      AND NOT (id = ANY(${named}::bigint[]))
    RETURNING id`;
  const retired = await sql<{ id: string }[]>`
    UPDATE data_keys SET retired_at = clock_timestamp()
    WHERE retired_at IS NULL
      AND created_at < clock_timestamp() - make_interval(secs => ${retireAfterSeconds})
      AND NOT (id = ANY(${named}::bigint[]))
    RETURNING id`;
  const [left] = await sql<{ count: string }[]>`SELECT count(*) AS count FROM data_keys`;
  return {
    retired: ids(retired),
    deleted: ids(deleted),
    restored: ids(restored),
    kept: Number(left?.count ?? 0),
  };
}

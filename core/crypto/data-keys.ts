import type { Sql } from "../db";
import type { WrappedDataKey } from "./key-provider";

export interface StoredDataKey extends WrappedDataKey {
  id: number;
}

/** Where wrapped data keys are kept: the data_keys table (migration 0004). */
export interface DataKeyStore {
  insert(key: WrappedDataKey): Promise<number>;
  get(id: number): Promise<StoredDataKey | undefined>;
  /** The master key id of one stored data key wrapped by the other kind of provider, if any. */
  foreignMasterKey(kind: "kms" | "local"): Promise<string | undefined>;
}

/** Local master key ids look like `local:<fingerprint>`; anything else is a KMS key. */
export function masterKeyKind(masterKeyId: string): "kms" | "local" {
  return masterKeyId.startsWith("local:") ? "local" : "kms";
}

interface DataKeyRow {
  id: string;
  master_key_id: string;
  wrapped_key: Buffer;
}

/** The data_keys table as a DataKeyStore. */
export function createPostgresDataKeyStore(sql: Sql): DataKeyStore {
  return {
    async insert(key) {
      const [row] = await sql<{ id: string }[]>`
        INSERT INTO data_keys (master_key_id, wrapped_key)
        VALUES (${key.masterKeyId}, ${key.wrapped})
        RETURNING id`;
      return Number(row?.id);
    },
    async get(id) {
      const [row] = await sql<DataKeyRow[]>`
        SELECT id, master_key_id, wrapped_key FROM data_keys WHERE id = ${id}`;
      return row
        ? { id: Number(row.id), masterKeyId: row.master_key_id, wrapped: row.wrapped_key }
        : undefined;
    },
    async foreignMasterKey(kind) {
      const [row] =
        kind === "local"
          ? await sql<{ master_key_id: string }[]>`
              SELECT master_key_id FROM data_keys WHERE master_key_id NOT LIKE 'local:%' LIMIT 1`
          : await sql<{ master_key_id: string }[]>`
              SELECT master_key_id FROM data_keys WHERE master_key_id LIKE 'local:%' LIMIT 1`;
      return row?.master_key_id;
    },
  };
}

/** An in-memory store, for benchmarks and unit tests of key providers. */
export function createMemoryDataKeyStore(): DataKeyStore & {
  readonly keys: ReadonlyMap<number, StoredDataKey>;
} {
  const keys = new Map<number, StoredDataKey>();
  return {
    keys,
    async insert(key) {
      const id = keys.size + 1;
      keys.set(id, { id, masterKeyId: key.masterKeyId, wrapped: Buffer.from(key.wrapped) });
      return id;
    },
    async get(id) {
      return keys.get(id);
    },
    async foreignMasterKey(kind) {
      for (const key of keys.values()) {
        if (masterKeyKind(key.masterKeyId) !== kind) return key.masterKeyId;
      }
      return undefined;
    },
  };
}

/** Every stored data key, oldest first. */
export async function listDataKeys(sql: Sql): Promise<Array<StoredDataKey & { createdAt: Date }>> {
  const rows = await sql<Array<DataKeyRow & { created_at: Date }>>`
    SELECT id, master_key_id, wrapped_key, created_at FROM data_keys ORDER BY id`;
  return rows.map((row) => ({
    id: Number(row.id),
    masterKeyId: row.master_key_id,
    wrapped: row.wrapped_key,
    createdAt: row.created_at,
  }));
}

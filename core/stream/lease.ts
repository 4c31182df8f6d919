import type { Sql } from "../db";

/**
 * Takes the lease of a session key for `owner`, or renews it: granted when
 * the row is free, expired, or already this owner's. On the database's clock,
 * so hubs with skewed clocks agree.
 */
export async function claimLease(
  sql: Sql,
  key: string,
  owner: string,
  leaseMs: number,
): Promise<boolean> {
  const rows = await sql`
    INSERT INTO stream_leases (credential_key, owner, expires_at, acquired_at)
    VALUES (${key}, ${owner}, clock_timestamp() + ${leaseMs} * interval '1 millisecond', clock_timestamp())
    ON CONFLICT (credential_key) DO UPDATE
      SET owner = EXCLUDED.owner,
          expires_at = EXCLUDED.expires_at,
          acquired_at = CASE WHEN stream_leases.owner = EXCLUDED.owner
                             THEN stream_leases.acquired_at ELSE EXCLUDED.acquired_at END
      WHERE stream_leases.owner = EXCLUDED.owner OR stream_leases.expires_at < clock_timestamp()
    RETURNING 1`;
  return rows.length === 1;
}

/** Lets the leases go (SIGTERM, a session closed): another hub may take them at once. */
export async function releaseLeases(
  sql: Sql,
  keys: readonly string[],
  owner: string,
): Promise<void> {
  if (keys.length === 0) return;
  await sql`DELETE FROM stream_leases WHERE owner = ${owner} AND credential_key = ANY(${keys as string[]})`;
}

/** Who holds a key's lease now, if anyone (for errors and tests). */
export async function leaseHolder(sql: Sql, key: string): Promise<string | undefined> {
  const [row] = await sql<{ owner: string }[]>`
    SELECT owner FROM stream_leases WHERE credential_key = ${key} AND expires_at >= clock_timestamp()`;
  return row?.owner;
}

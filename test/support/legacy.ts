import type { Sql } from "../../core/db";

/**
 * A legacy crypto-only `accounts` table as the running system has it: the
 * baseline's columns plus ones this service knows nothing about.
 */
export async function createLegacyAccounts(sql: Sql, rows = 50): Promise<void> {
  await sql`
    CREATE TABLE accounts (
      id SERIAL PRIMARY KEY,
      name VARCHAR(100) NOT NULL,
      exchange VARCHAR(50) NOT NULL,
      api_key TEXT,
      api_secret TEXT,
      is_active BOOLEAN NOT NULL DEFAULT TRUE,
      created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
      updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
      leverage NUMERIC(10, 2) DEFAULT 1.00,
      memo TEXT,
      owner_email VARCHAR(255)
    )
  `;
  await sql`
    INSERT INTO accounts (name, exchange, api_key, api_secret, is_active, created_at, leverage, memo, owner_email)
    SELECT 'crypto-' || g, (ARRAY['upbit', 'bithumb', 'binance'])[1 + g % 3], 'key-' || g, 'secret-' || g,
           g % 7 <> 0, TIMESTAMP '2025-01-01' + g * INTERVAL '1 hour', g / 10.0,
           CASE WHEN g % 5 = 0 THEN NULL ELSE '메모 ' || g END, 'owner' || g || '@example.com'
    FROM generate_series(1, ${rows}) AS g
  `;
}

/** md5 of every legacy column of every row, in id order: equal means byte-for-byte equal. */
export async function legacyChecksum(sql: Sql): Promise<string> {
  const [row] = await sql<{ checksum: string }[]>`
    SELECT md5(string_agg(
      concat_ws('|', id, name, exchange, api_key, api_secret, is_active, created_at, updated_at, leverage, memo, owner_email),
      E'\\n' ORDER BY id
    )) AS checksum
    FROM accounts
  `;
  return row?.checksum ?? "";
}

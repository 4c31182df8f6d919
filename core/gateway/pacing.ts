import type { Sql } from "../db";
import type { StoredToken } from "../tokens";

/** What one pacing statement answers: the slot (or a refusal) and the account's token row. */
export interface CallSlot {
  /** Milliseconds to wait before sending; undefined when the slot is further away than allowed. */
  waitMs: number | undefined;
  /** When refused: how far away the next slot is. */
  queuedMs: number;
  /** undefined when there is no such account. */
  account: { updatedAt: Date; active: boolean; stored: StoredToken | undefined } | undefined;
}

/**
 * Takes the next call slot of an app key and reads the account's token, in
 * ONE statement. The slot is the later of the key's `next_at` and the
 * database's clock_timestamp() read after the row lock is taken (so waiting
 * for another process's statement never makes a slot early), and `next_at`
 * moves one spacing further. Calls of one key therefore leave at least
 * `spacingMs` apart, whatever process sends them. When the slot is more than
 * `maxWaitMs` away nothing changes and `waitMs` is undefined.
 */
export async function takeCallSlot(
  sql: Sql,
  slot: {
    key: string;
    broker: string;
    environment: string;
    accountId: number;
    spacingMs: number;
    maxWaitMs: number;
  },
): Promise<CallSlot> {
  const { key, spacingMs, maxWaitMs } = slot;
  const [row] = await sql<
    {
      wait_ms: number | null;
      queued_ms: number | null;
      updated_at: Date;
      is_active: boolean;
      access_token: string | null;
      token_type: string;
      expires_at: Date;
      last_refreshed_at: Date;
      rejected: boolean;
    }[]
  >`
    WITH pace AS (
      INSERT INTO broker_call_pacing AS p (credential_key, broker, environment, next_at)
      VALUES (${key}, ${slot.broker}, ${slot.environment},
              (clock_timestamp() AT TIME ZONE 'UTC') + ${spacingMs}::float8 * interval '1 millisecond')
      ON CONFLICT (credential_key) DO UPDATE
        SET next_at = greatest(p.next_at, clock_timestamp() AT TIME ZONE 'UTC')
                      + ${spacingMs}::float8 * interval '1 millisecond'
        WHERE p.next_at <= (clock_timestamp() AT TIME ZONE 'UTC') + ${maxWaitMs}::float8 * interval '1 millisecond'
      RETURNING extract(epoch FROM p.next_at - (clock_timestamp() AT TIME ZONE 'UTC')) * 1000
                - ${spacingMs}::float8 AS wait_ms
    )
    SELECT (SELECT wait_ms FROM pace)::float8 AS wait_ms,
           (SELECT extract(epoch FROM q.next_at - (clock_timestamp() AT TIME ZONE 'UTC')) * 1000
              FROM broker_call_pacing q WHERE q.credential_key = ${key})::float8 AS queued_ms,
           a.updated_at, a.is_active,
           st.access_token, st.token_type, st.expires_at, st.last_refreshed_at,
           coalesce(s.rejected_token_refreshed_at = st.last_refreshed_at, false) AS rejected
    FROM accounts a
    LEFT JOIN securities_tokens st ON st.account_id = a.id
    LEFT JOIN securities_token_state s ON s.account_id = a.id
    WHERE a.id = ${slot.accountId}
  `;
  if (!row) return { waitMs: undefined, queuedMs: 0, account: undefined };
  return {
    waitMs: row.wait_ms === null ? undefined : Math.max(0, row.wait_ms),
    queuedMs: Math.max(0, row.queued_ms ?? 0),
    account: {
      updatedAt: row.updated_at,
      active: row.is_active,
      stored:
        row.access_token === null
          ? undefined
          : {
              accountId: slot.accountId,
              ciphertext: row.access_token,
              tokenType: row.token_type,
              expiresAt: row.expires_at,
              lastRefreshedAt: row.last_refreshed_at,
              rejected: row.rejected,
              active: row.is_active,
            },
    },
  };
}

import type { Sql } from "../db";

// Which accounts a refresh run works on, and its claims on them. A claim is a
// lease in securities_token_state (claimed_by = the run id, claimed_until on
// the database's clock) that other runs respect until it is released or runs out.

/**
 * The seed's indexed queries for due accounts (tokens expiring before the
 * horizon, securities accounts without a token, tokens reported rejected),
 * active and not backing off: a fragment the run lists and the scheduler counts.
 */
export function dueAccounts(sql: Sql, horizon: Date, now: Date) {
  return sql`
    WITH due AS (
      SELECT st.account_id, st.expires_at
      FROM securities_tokens st
      WHERE st.expires_at <= ${horizon}
      UNION
      SELECT a.id, NULL
      FROM accounts a
      WHERE a.account_type = 'SECURITIES_STOCK'
        AND NOT EXISTS (SELECT 1 FROM securities_tokens st WHERE st.account_id = a.id)
      UNION
      SELECT st.account_id, st.expires_at
      FROM securities_token_state s JOIN securities_tokens st ON st.account_id = s.account_id
      WHERE s.rejected_token_refreshed_at = st.last_refreshed_at
    )
    SELECT due.account_id, due.expires_at
    FROM due
    JOIN accounts a ON a.id = due.account_id AND a.is_active AND a.account_type = 'SECURITIES_STOCK'
    LEFT JOIN securities_token_state s ON s.account_id = due.account_id
    WHERE s.next_attempt_at IS NULL OR s.next_attempt_at <= ${now}
  `;
}

/** The due accounts, most urgent first. */
export async function dueAccountIds(
  sql: Sql,
  horizon: Date,
  now: Date,
  limit: number,
): Promise<number[]> {
  const rows = await sql<{ account_id: number }[]>`
    SELECT account_id FROM (${dueAccounts(sql, horizon, now)}) due
    ORDER BY expires_at NULLS FIRST, account_id
    LIMIT ${limit}
  `;
  return rows.map((r) => r.account_id);
}

/**
 * Claims those of `ids` nobody else holds, that are not backing off at `now`
 * and that nobody refreshed since `readAt` (when the run read them as due),
 * for one issuance lease; returns the ids claimed. The due list is read
 * once, so each condition is checked again here, where it counts.
 */
export async function claimDueAccounts(
  sql: Sql,
  claim: { ids: number[]; runId: string; leaseMs: number; readAt: Date; now: Date },
): Promise<number[]> {
  // The claim is a lease other runs compare: written and judged on the database's clock.
  const rows = await sql<{ account_id: number }[]>`
    INSERT INTO securities_token_state AS s (account_id, claimed_by, claimed_until)
    SELECT t.id, ${claim.runId}, clock_timestamp()::timestamp + ${claim.leaseMs} * interval '1 millisecond'
    FROM unnest(${claim.ids}::int[]) AS t(id)
    WHERE NOT EXISTS (
      SELECT 1 FROM securities_tokens st
      WHERE st.account_id = t.id AND st.last_refreshed_at >= ${claim.readAt}
    )
    ON CONFLICT (account_id) DO UPDATE
      SET claimed_by = EXCLUDED.claimed_by, claimed_until = EXCLUDED.claimed_until
      WHERE (s.claimed_until IS NULL OR s.claimed_until <= clock_timestamp()::timestamp)
        AND (s.next_attempt_at IS NULL OR s.next_attempt_at <= ${claim.now})
    RETURNING account_id
  `;
  return rows.map((r) => r.account_id);
}

/** Releases the run's claim on one account (a claim another run took since stays). */
export async function releaseClaim(sql: Sql, accountId: number, runId: string): Promise<void> {
  await sql`
    UPDATE securities_token_state SET claimed_by = NULL, claimed_until = NULL
    WHERE account_id = ${accountId} AND claimed_by = ${runId}
  `;
}

/** Releases the run's claims on accounts it claimed but did not start. */
export async function releaseClaims(sql: Sql, accountIds: number[], runId: string): Promise<void> {
  await sql`
    UPDATE securities_token_state SET claimed_by = NULL, claimed_until = NULL
    WHERE account_id = ANY(${accountIds}::int[]) AND claimed_by = ${runId}
  `;
}

/**
 * Releases the run's claim on a deferred account and rests it until `until`
 * (never earlier than it rested already): the runs' due query and claim skip
 * it until then.
 */
export async function deferClaimedAccount(
  sql: Sql,
  accountId: number,
  runId: string,
  until: Date,
): Promise<void> {
  await sql`
    UPDATE securities_token_state
    SET claimed_by = NULL, claimed_until = NULL,
        next_attempt_at = greatest(coalesce(next_attempt_at, ${until}), ${until})
    WHERE account_id = ${accountId} AND claimed_by = ${runId}
  `;
}

/** Of `ids`, those another run holds a live claim on: per run, the latest claim's end and the count. */
export async function claimsHeldElsewhere(
  sql: Sql,
  ids: number[],
  runId: string,
): Promise<{ claimed_by: string; until: Date; n: number }[]> {
  return await sql<{ claimed_by: string; until: Date; n: number }[]>`
    SELECT claimed_by, max(claimed_until) AS until, count(*)::int AS n
    FROM securities_token_state
    WHERE account_id = ANY(${ids}::int[]) AND claimed_until > clock_timestamp()::timestamp
      AND claimed_by <> ${runId}
    GROUP BY claimed_by
  `;
}

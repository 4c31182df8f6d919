import type { Sql } from "../db";

export type TokenState = "valid" | "expiring" | "failing" | "rejected" | "expired" | "missing";

export interface AccountTokenStatus {
  account_id: number;
  name: string;
  broker: string;
  is_active: boolean;
  state: TokenState;
  expires_at: string | null;
  last_refreshed_at: string | null;
  consecutive_failures: number;
  last_error: { code: string | null; message: string | null; at: string } | null;
  next_attempt_at: string | null;
}

export interface TokenStatusReport {
  generated_at: string;
  refresh_window_hours: number;
  totals: Record<TokenState, number> & { accounts: number };
  accounts: AccountTokenStatus[];
}

/**
 * Per securities account: its token's expiry and last refresh, the last
 * error and the next attempt, with totals for operators. No secret is read.
 */
export async function tokenStatus(
  sql: Sql,
  options: { now: Date; refreshWindowMs: number },
): Promise<TokenStatusReport> {
  const rows = await sql<
    {
      account_id: number;
      name: string;
      broker: string;
      is_active: boolean;
      expires_at: Date | null;
      last_refreshed_at: Date | null;
      consecutive_failures: number | null;
      last_error_at: Date | null;
      last_error_code: string | null;
      last_error_message: string | null;
      next_attempt_at: Date | null;
      rejected: boolean;
    }[]
  >`
    SELECT a.id AS account_id, a.name, a.exchange AS broker, a.is_active,
           st.expires_at, st.last_refreshed_at,
           s.consecutive_failures, s.last_error_at, s.last_error_code, s.last_error_message, s.next_attempt_at,
           coalesce(s.rejected_token_refreshed_at = st.last_refreshed_at, false) AS rejected
    FROM accounts a
    LEFT JOIN securities_tokens st ON st.account_id = a.id
    LEFT JOIN securities_token_state s ON s.account_id = a.id
    WHERE a.account_type = 'SECURITIES_STOCK'
    ORDER BY a.id
  `;
  const now = options.now.getTime();
  const totals = {
    accounts: 0,
    valid: 0,
    expiring: 0,
    failing: 0,
    rejected: 0,
    expired: 0,
    missing: 0,
  };
  const accounts = rows.map((row): AccountTokenStatus => {
    const failures = row.consecutive_failures ?? 0;
    const state: TokenState = !row.expires_at
      ? failures > 0
        ? "failing"
        : "missing"
      : row.expires_at.getTime() <= now
        ? "expired"
        : row.rejected
          ? "rejected"
          : failures > 0
            ? "failing"
            : row.expires_at.getTime() <= now + options.refreshWindowMs
              ? "expiring"
              : "valid";
    totals.accounts++;
    totals[state]++;
    return {
      account_id: row.account_id,
      name: row.name,
      broker: row.broker,
      is_active: row.is_active,
      state,
      expires_at: row.expires_at?.toISOString() ?? null,
      last_refreshed_at: row.last_refreshed_at?.toISOString() ?? null,
      consecutive_failures: failures,
      last_error: row.last_error_at
        ? {
            code: row.last_error_code,
            message: row.last_error_message,
            at: row.last_error_at.toISOString(),
          }
        : null,
      next_attempt_at: row.next_attempt_at?.toISOString() ?? null,
    };
  });
  return {
    generated_at: options.now.toISOString(),
    refresh_window_hours: options.refreshWindowMs / 3_600_000,
    totals,
    accounts,
  };
}

import type { Sql } from "../db";

/** One forwarded call as the audit keeps it: never a body, a header value or the query. */
export interface CallRecord {
  accountId: number;
  at: Date;
  broker: string;
  environment: string;
  method: string;
  /** The broker path without its query (queries can carry account numbers). */
  path: string;
  transactionId: string | undefined;
  /** The broker's HTTP status; 0 when it did not answer. */
  status: number;
  /** The broker's code when it reported an error (EGW00201, 8005…). */
  brokerCode: string | undefined;
  latencyMs: number;
  keyId: string | undefined;
  /** True for the one replay after a token rejection. */
  replayed: boolean;
  failed: boolean;
}

/** Appends the audit row and moves the account's totals, in one statement. */
export async function recordCall(sql: Sql, call: CallRecord): Promise<void> {
  const errorAt = call.failed ? call.at : null;
  await sql`
    WITH audited AS (
      INSERT INTO broker_calls
        (account_id, called_at, broker, environment, method, path, transaction_id, status,
         broker_code, latency_ms, key_id, replayed)
      VALUES (${call.accountId}, ${call.at}, ${call.broker}, ${call.environment}, ${call.method},
              ${call.path.slice(0, 300)}, ${call.transactionId ?? null}, ${call.status},
              ${call.brokerCode ?? null}, ${Math.round(call.latencyMs)}, ${call.keyId ?? null},
              ${call.replayed})
    )
    INSERT INTO broker_call_totals AS t
      (account_id, calls, failed_calls, last_call_at, last_error_at, last_error_status, last_error_code, last_error_path)
    SELECT ${call.accountId}, 1, ${call.failed ? 1 : 0}, ${call.at}, ${errorAt}::timestamp,
           ${call.failed ? call.status : null}::int, ${call.failed ? (call.brokerCode ?? null) : null}::text,
           ${call.failed ? call.path.slice(0, 300) : null}::text
    WHERE EXISTS (SELECT 1 FROM accounts WHERE id = ${call.accountId})
    ON CONFLICT (account_id) DO UPDATE
      SET calls = t.calls + 1,
          failed_calls = t.failed_calls + EXCLUDED.failed_calls,
          last_call_at = EXCLUDED.last_call_at,
          last_error_at = coalesce(EXCLUDED.last_error_at, t.last_error_at),
          last_error_status = CASE WHEN EXCLUDED.last_error_at IS NULL THEN t.last_error_status ELSE EXCLUDED.last_error_status END,
          last_error_code = CASE WHEN EXCLUDED.last_error_at IS NULL THEN t.last_error_code ELSE EXCLUDED.last_error_code END,
          last_error_path = CASE WHEN EXCLUDED.last_error_at IS NULL THEN t.last_error_path ELSE EXCLUDED.last_error_path END
  `;
}

/** Per account: calls through the gateway and the last broker error. */
export interface AccountCallStatus {
  account_id: number;
  calls: number;
  failed_calls: number;
  last_call_at: string | null;
  last_error: { at: string; status: number; broker_code: string | null; path: string } | null;
}

export interface GatewayStatusReport {
  accounts: AccountCallStatus[];
  totals: { calls: number; failed_calls: number };
}

/** The status route's view, one row per account that has called. */
export async function gatewayStatus(sql: Sql): Promise<GatewayStatusReport> {
  const rows = await sql<
    {
      account_id: number;
      calls: string;
      failed_calls: string;
      last_call_at: Date | null;
      last_error_at: Date | null;
      last_error_status: number | null;
      last_error_code: string | null;
      last_error_path: string | null;
    }[]
  >`SELECT * FROM broker_call_totals ORDER BY account_id`;
  const accounts = rows.map((row) => ({
    account_id: row.account_id,
    calls: Number(row.calls),
    failed_calls: Number(row.failed_calls),
    last_call_at: row.last_call_at?.toISOString() ?? null,
    last_error: row.last_error_at
      ? {
          at: row.last_error_at.toISOString(),
          status: row.last_error_status ?? 0,
          broker_code: row.last_error_code,
          path: row.last_error_path ?? "",
        }
      : null,
  }));
  return {
    accounts,
    totals: {
      calls: accounts.reduce((sum, a) => sum + a.calls, 0),
      failed_calls: accounts.reduce((sum, a) => sum + a.failed_calls, 0),
    },
  };
}

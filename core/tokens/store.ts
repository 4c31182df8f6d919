import { createHash } from "node:crypto";
import type { CredentialStamp } from "../accounts";
import type { Sql, TransactionSql } from "../db";

type Db = Sql | TransactionSql;

/** The stored token of an account, still encrypted. */
export interface StoredToken {
  accountId: number;
  ciphertext: string;
  tokenType: string;
  expiresAt: Date;
  lastRefreshedAt: Date;
  /** True when a caller reported this very token as rejected by the broker. */
  rejected: boolean;
  /** The account's is_active: an inactive account's token is not handed out. */
  active: boolean;
}

/**
 * The issuance slot's key for (broker, environment, app key): a sha256, so
 * the app key itself is never stored in the clear.
 */
export function credentialKey(broker: string, environment: string, appKey: string): string {
  return createHash("sha256").update(`${broker}\u0000${environment}\u0000${appKey}`).digest("hex");
}

/** One indexed read: the account's token with its rejected flag. */
export async function readStoredToken(
  sql: Db,
  accountId: number,
): Promise<StoredToken | undefined> {
  const [row] = await sql<
    {
      access_token: string;
      token_type: string;
      expires_at: Date;
      last_refreshed_at: Date;
      rejected: boolean;
      active: boolean;
    }[]
  >`
    SELECT st.access_token, st.token_type, st.expires_at, st.last_refreshed_at,
           coalesce(s.rejected_token_refreshed_at = st.last_refreshed_at, false) AS rejected,
           a.is_active AS active
    FROM securities_tokens st
    JOIN accounts a ON a.id = st.account_id
    LEFT JOIN securities_token_state s ON s.account_id = st.account_id
    WHERE st.account_id = ${accountId}
  `;
  if (!row) return undefined;
  return {
    accountId,
    ciphertext: row.access_token,
    tokenType: row.token_type,
    expiresAt: row.expires_at,
    lastRefreshedAt: row.last_refreshed_at,
    rejected: row.rejected,
    active: row.active,
  };
}

export interface SlotClaim {
  granted: boolean;
  leaseOwner: string | null;
  /** How long another issuer's lease still runs, by the database's clock (0 when none). */
  leaseLeftMs: number;
  /** How long until the broker's pace allows the next issue, by the database's clock (0 when now). */
  paceLeftMs: number;
  lastAccountId: number | null;
}

/**
 * Takes the issuance lease of a credential, in one statement: granted only
 * when nobody holds a live lease and the broker's pace allows an issue now.
 * The pace is pushed forward in the same statement, committed before the
 * broker is called, so that a process dying mid-call cannot make the next
 * issuer break the broker's limit.
 *
 * "Now" is the database's clock_timestamp(), never the caller's: leases and
 * the pace are written and compared by many processes, whose clocks drift.
 * Answers are durations on that clock, for the caller to wait out.
 */
export async function claimIssuanceSlot(
  sql: Db,
  claim: {
    key: string;
    broker: string;
    environment: string;
    owner: string;
    leaseMs: number;
    minIntervalMs: number;
  },
): Promise<SlotClaim> {
  const [granted] = await sql<{ granted: boolean }[]>`
    WITH now AS (SELECT clock_timestamp()::timestamp AS t)
    INSERT INTO broker_issuance_slots AS s
      (credential_key, broker, environment, lease_owner, lease_until, next_allowed_at)
    SELECT ${claim.key}, ${claim.broker}, ${claim.environment}, ${claim.owner},
           t + ${claim.leaseMs} * interval '1 millisecond', t + ${claim.minIntervalMs} * interval '1 millisecond'
    FROM now
    ON CONFLICT (credential_key) DO UPDATE
      SET lease_owner = EXCLUDED.lease_owner,
          lease_until = EXCLUDED.lease_until,
          next_allowed_at = EXCLUDED.next_allowed_at
      WHERE (s.lease_until IS NULL OR s.lease_until <= (SELECT t FROM now))
        AND (s.next_allowed_at IS NULL OR s.next_allowed_at <= (SELECT t FROM now))
    RETURNING true AS granted
  `;
  if (granted) {
    return {
      granted: true,
      leaseOwner: claim.owner,
      leaseLeftMs: claim.leaseMs,
      paceLeftMs: claim.minIntervalMs,
      lastAccountId: null,
    };
  }
  const [slot] = await sql<
    {
      lease_owner: string | null;
      lease_left_ms: number;
      pace_left_ms: number;
      last_account_id: number | null;
    }[]
  >`
    WITH now AS (SELECT clock_timestamp()::timestamp AS t)
    SELECT lease_owner, last_account_id,
           greatest(0, ceil(extract(epoch FROM coalesce(lease_until, t) - t) * 1000))::float8 AS lease_left_ms,
           greatest(0, ceil(extract(epoch FROM coalesce(next_allowed_at, t) - t) * 1000))::float8 AS pace_left_ms
    FROM broker_issuance_slots, now WHERE credential_key = ${claim.key}
  `;
  return {
    granted: false,
    leaseOwner: slot?.lease_owner ?? null,
    leaseLeftMs: slot?.lease_left_ms ?? 0,
    paceLeftMs: slot?.pace_left_ms ?? 0,
    lastAccountId: slot?.last_account_id ?? null,
  };
}

/** Gives the lease back; on a broker rate limit, pushes the pace out by what it asked (from the database's now). */
export async function releaseIssuanceSlot(
  sql: Db,
  release: { key: string; owner: string; notBeforeMs?: number | undefined },
): Promise<void> {
  await sql`
    UPDATE broker_issuance_slots
    SET lease_owner = NULL,
        lease_until = NULL,
        next_allowed_at = greatest(
          next_allowed_at,
          clock_timestamp()::timestamp + ${release.notBeforeMs ?? null}::float8 * interval '1 millisecond'
        )
    WHERE credential_key = ${release.key} AND lease_owner = ${release.owner}
  `;
}

export type AttemptAction = "issue" | "reuse" | "revoke" | "invalidate";
export type AttemptOutcome = "ok" | "failed" | "skipped";

export interface Attempt {
  accountId: number;
  at: Date;
  action: AttemptAction;
  outcome: AttemptOutcome;
  trigger: string;
  broker: string;
  environment: string;
  brokerCode?: string | undefined;
  message?: string | undefined;
  durationMs?: number | undefined;
}

/** Appends one line to the attempts history the status view reads. */
export async function recordAttempt(sql: Db, attempt: Attempt): Promise<void> {
  await sql`
    INSERT INTO securities_token_attempts
      (account_id, attempted_at, action, outcome, trigger, broker, environment, broker_code, message, duration_ms)
    VALUES (${attempt.accountId}, ${attempt.at}, ${attempt.action}, ${attempt.outcome}, ${attempt.trigger},
            ${attempt.broker}, ${attempt.environment}, ${attempt.brokerCode ?? null},
            ${attempt.message?.slice(0, 500) ?? null}, ${attempt.durationMs ?? null})
  `;
}

/** After a failure: counted, next attempt pushed out by the backoff, the error kept for operators. */
export async function markFailed(
  sql: Db,
  failure: {
    accountId: number;
    at: Date;
    code: string;
    message: string;
    backoff: (consecutiveFailures: number) => number;
    notBefore?: Date | undefined;
  },
): Promise<void> {
  const [row] = await sql<{ consecutive_failures: number }[]>`
    INSERT INTO securities_token_state (account_id, consecutive_failures, last_error_at, last_error_code, last_error_message)
    VALUES (${failure.accountId}, 1, ${failure.at}, ${failure.code}, ${failure.message.slice(0, 500)})
    ON CONFLICT (account_id) DO UPDATE
      SET consecutive_failures = securities_token_state.consecutive_failures + 1,
          last_error_at = EXCLUDED.last_error_at,
          last_error_code = EXCLUDED.last_error_code,
          last_error_message = EXCLUDED.last_error_message,
          claimed_by = NULL, claimed_until = NULL
    RETURNING consecutive_failures
  `;
  const delay = failure.backoff(row?.consecutive_failures ?? 1);
  const next = Math.max(failure.at.getTime() + delay, failure.notBefore?.getTime() ?? 0);
  await sql`
    UPDATE securities_token_state SET next_attempt_at = ${new Date(next)}
    WHERE account_id = ${failure.accountId}
  `;
}

/** A token to store for an account, already encrypted for both of its places. */
export interface TokenToCommit {
  accountId: number;
  storeCiphertext: string;
  mirrorCiphertext: string;
  tokenType: string;
  expiresIn: number;
  expiresAt: Date;
  refreshedAt: Date;
  /** The credentialKey() the token was issued under, stored with it (securities_token_state.token_credential_key). */
  credentialKey: string;
}

/** When a token may be committed at all. */
export interface CommitGuard {
  /** The account's credential columns as read before the broker call: the row must still hold them, and be active. */
  stamp: CredentialStamp;
  /** For a shared token: the sibling it is copied from must still hold it (refreshed at this instant). */
  source?: { accountId: number; refreshedAt: Date };
}

/**
 * Commits a token in ONE statement, so it is atomic without a transaction
 * block and costs one round trip: the seed's securities_tokens row, the
 * legacy mirror on accounts, the account's state (failures cleared, claim
 * released), the attempt, and (for an issuance) the lease's release. A
 * process that dies before this statement leaves everything as it was.
 *
 * Only where the guard still holds: the account row is locked FOR SHARE and
 * re-checked after any concurrent writer commits, so a PATCH that changed the
 * app key (or deactivated or deleted the account) while the broker was being
 * asked wins, and the stale token is not stored. The lease is released
 * either way. Returns whether the token was stored.
 */
export async function commitToken(
  sql: Db,
  token: TokenToCommit,
  guard: CommitGuard,
  attempt: Attempt,
  release?: { key: string; owner: string },
): Promise<boolean> {
  const { stamp, source } = guard;
  const [row] = await sql<{ committed: boolean }[]>`
    WITH current AS (
      SELECT a.id FROM accounts a
      WHERE a.id = ${token.accountId} AND a.is_active
        AND a.exchange = ${stamp.exchange}
        AND a.api_key IS NOT DISTINCT FROM ${stamp.apiKey}
        AND a.api_secret IS NOT DISTINCT FROM ${stamp.apiSecret}
        AND a.securities_config IS NOT DISTINCT FROM ${stamp.securitiesConfig}
      FOR SHARE
    ), source AS (
      SELECT st.account_id FROM securities_tokens st
      WHERE st.account_id = ${source?.accountId ?? null}::int
        AND st.last_refreshed_at = ${source?.refreshedAt ?? null}::timestamp
      FOR SHARE
    ), ok AS (
      SELECT id FROM current
      WHERE ${source ? sql`EXISTS (SELECT 1 FROM source)` : sql`true`}
    ), stored AS (
      INSERT INTO securities_tokens
        (account_id, access_token, token_type, expires_in, expires_at, created_at, last_refreshed_at)
      SELECT id, ${token.storeCiphertext}, ${token.tokenType}, ${token.expiresIn},
             ${token.expiresAt}, ${token.refreshedAt}, ${token.refreshedAt}
      FROM ok
      ON CONFLICT (account_id) DO UPDATE
        SET access_token = EXCLUDED.access_token,
            token_type = EXCLUDED.token_type,
            expires_in = EXCLUDED.expires_in,
            expires_at = EXCLUDED.expires_at,
            last_refreshed_at = EXCLUDED.last_refreshed_at
    ), mirrored AS (
      UPDATE accounts
      SET access_token = ${token.mirrorCiphertext}, token_expires_at = ${token.expiresAt}
      WHERE id IN (SELECT id FROM ok)
    ), state AS (
      INSERT INTO securities_token_state (account_id, token_credential_key)
      SELECT id, ${token.credentialKey} FROM ok
      ON CONFLICT (account_id) DO UPDATE
        SET consecutive_failures = 0, next_attempt_at = NULL, rejected_token_refreshed_at = NULL,
            claimed_by = NULL, claimed_until = NULL,
            token_credential_key = EXCLUDED.token_credential_key
    ), recorded AS (
      INSERT INTO securities_token_attempts
        (account_id, attempted_at, action, outcome, trigger, broker, environment, broker_code, message, duration_ms)
      SELECT ${attempt.accountId}, ${attempt.at}, ${attempt.action},
             CASE WHEN EXISTS (SELECT 1 FROM ok) THEN ${attempt.outcome} ELSE 'discarded' END,
             ${attempt.trigger}, ${attempt.broker}, ${attempt.environment}, ${attempt.brokerCode ?? null},
             CASE WHEN EXISTS (SELECT 1 FROM ok) THEN ${attempt.message?.slice(0, 500) ?? null}
                  ELSE 'not stored: the account''s credentials changed, or it was deactivated or deleted, while the token was obtained' END,
             ${attempt.durationMs ?? null}
    ), released AS (
      UPDATE broker_issuance_slots
      SET lease_owner = NULL, lease_until = NULL,
          last_issued_at = clock_timestamp()::timestamp,
          last_account_id = CASE WHEN EXISTS (SELECT 1 FROM ok) THEN ${token.accountId}::int ELSE last_account_id END
      WHERE credential_key = ${release?.key ?? null} AND lease_owner = ${release?.owner ?? null}
    )
    -- Data-modifying WITH parts run to completion whether or not anything reads them.
    SELECT EXISTS (SELECT 1 FROM ok) AS committed
  `;
  return row?.committed === true;
}

/**
 * Who may hold a token: the accounts whose stored token was issued under the
 * same credential, and those of the same broker whose token predates 0009
 * and does not say. The caller decrypts and compares.
 */
export async function possibleTokenHolders(
  sql: Db,
  credentialKey: string,
  broker: string,
  exceptAccountId: number,
): Promise<{ accountId: number; ciphertext: string }[]> {
  const rows = await sql<{ account_id: number; access_token: string }[]>`
    SELECT st.account_id, st.access_token
    FROM securities_tokens st
    JOIN accounts a ON a.id = st.account_id
    LEFT JOIN securities_token_state s ON s.account_id = st.account_id
    WHERE st.account_id <> ${exceptAccountId}
      AND (s.token_credential_key = ${credentialKey}
        OR (s.token_credential_key IS NULL AND a.exchange = ${broker}))
  `;
  return rows.map((row) => ({ accountId: row.account_id, ciphertext: row.access_token }));
}

/** The account's current token (the one refreshed at `lastRefreshedAt`) no longer works: the next read issues. */
export async function markRejected(
  sql: Db,
  accountId: number,
  lastRefreshedAt: Date,
): Promise<void> {
  await sql`
    INSERT INTO securities_token_state (account_id, rejected_token_refreshed_at)
    VALUES (${accountId}, ${lastRefreshedAt})
    ON CONFLICT (account_id) DO UPDATE
      SET rejected_token_refreshed_at = EXCLUDED.rejected_token_refreshed_at, next_attempt_at = NULL
  `;
}

import { setTimeout as sleep } from "node:timers/promises";
import { loadBrokerCredentials } from "../accounts";
import { BrokerRateLimitedError, type BrokerRegistry } from "../brokers";
import type { Clock } from "../clock";
import type { Cipher } from "../crypto";
import type { Sql, TransactionSql } from "../db";
import { ConflictError } from "../errors";
import type { Logger } from "../log";
import { TokenIssuanceDeferredError } from "./errors";
import { claimIssuanceSlot, credentialKey, releaseIssuanceSlot } from "./store";

/** The binding of an account's approval key in `securities_approval_keys`. */
export function approvalKeyBinding(accountId: number) {
  return { table: "securities_approval_keys", column: "approval_key", rowId: accountId };
}

/** A websocket approval key ready to use. */
export interface ValidApprovalKey {
  approvalKey: string;
  expiresAt: Date;
}

/** How an approval key request ended: the stored key (or a sibling's) was good, or one was issued. */
export type ApprovalKeyOutcome = "current" | "issued";

/** The account approval keys the token service hands out and the refresh job renews. */
export interface ApprovalKeys {
  /**
   * The account's approval key valid beyond `validBeyond`, issuing one when
   * none is; waits up to `waitMs` for another issuer or the pace. "current"
   * when the stored key (or a sibling's) was good.
   */
  ensure(
    accountId: number,
    validBeyond: Date,
    waitMs: number,
    trigger: string,
  ): Promise<{ key: ValidApprovalKey; outcome: ApprovalKeyOutcome }>;
}

export interface ApprovalKeyDependencies {
  sql: Sql;
  cipher: Cipher;
  brokers: BrokerRegistry;
  clock: Clock;
  logger: Logger;
  owner: string;
  leaseMs: number;
}

/**
 * KIS websocket approval keys with a token's lifecycle: encrypted at rest and
 * bound to their row, served from the store while valid (also from another
 * account with the same app key), issued once at a time per app key across
 * processes through the issuance slots (a slot of their own, paced like
 * token issues), renewed by the refresh job, deleted with the account or
 * when its credentials change (KIS has no endpoint to revoke them).
 */
export function createApprovalKeys(deps: ApprovalKeyDependencies): ApprovalKeys {
  const { sql, cipher, brokers, clock, logger, owner } = deps;

  async function ensure(
    accountId: number,
    validBeyond: Date,
    waitMs: number,
    trigger: string,
  ): Promise<{ key: ValidApprovalKey; outcome: ApprovalKeyOutcome }> {
    const credentials = await loadBrokerCredentials(sql, cipher, accountId);
    const { broker, environment } = credentials;
    const client = brokers.get(broker);
    if (!client.issueApprovalKey) {
      throw new ConflictError(
        "websocket_key_not_supported",
        `${broker}'s websocket logs in with the access token, not an approval key, and ${broker} accepts that token only from the address that issued it (this service's egress IP), so account ${accountId} has no websocket key to hand out`,
      );
    }
    const key = credentialKey(`${broker}:approval`, environment, credentials.appKey);
    const deadline = clock.now().getTime() + waitMs;
    for (;;) {
      const found = await cached();
      if (found) return { key: found, outcome: "current" };
      const now = clock.now();
      const claim = await claimIssuanceSlot(sql, {
        key,
        broker,
        environment,
        owner,
        leaseMs: deps.leaseMs,
        minIntervalMs: client.minIssueIntervalMs,
      });
      if (claim.granted) {
        let issued: ValidApprovalKey;
        try {
          issued = await client.issueApprovalKey(credentials);
        } catch (error) {
          const notBeforeMs =
            error instanceof BrokerRateLimitedError ? error.retryAfterMs : undefined;
          await releaseIssuanceSlot(sql, { key, owner, notBeforeMs });
          throw error;
        }
        const ciphertext = await seal(issued);
        await sql.begin(async (tx) => {
          await write(tx, accountId, key, issued, ciphertext);
          await releaseIssuanceSlot(tx, { key, owner });
        });
        logger.info(
          { event: "approval_key_issued", account_id: accountId, broker, trigger },
          "issued a websocket approval key",
        );
        return { key: issued, outcome: "issued" };
      }
      // Another issuer may have finished between our read and our claim.
      const latest = await cached();
      if (latest) return { key: latest, outcome: "current" };
      // The slot's times are on the database's clock: wait out durations, not instants.
      const leased = claim.leaseLeftMs > 0;
      const readyAt =
        now.getTime() + (leased ? Math.min(claim.leaseLeftMs, 100) : claim.paceLeftMs);
      if (readyAt > deadline) {
        const retryAfterMs = Math.max(1000, readyAt - now.getTime());
        throw new TokenIssuanceDeferredError(
          "an approval key for this app key is being issued or paced",
          retryAfterMs,
        );
      }
      await sleep(Math.max(10, Math.min(readyAt - now.getTime(), 1000)));
    }

    /** This account's stored key, else one issued for the same app key (copied to this row). */
    async function cached(): Promise<ValidApprovalKey | undefined> {
      const [row] = await sql<{ account_id: number; approval_key: string; expires_at: Date }[]>`
        SELECT account_id, approval_key, expires_at FROM securities_approval_keys
        WHERE credential_key = ${key} AND expires_at > ${validBeyond}
        ORDER BY account_id = ${accountId} DESC, expires_at DESC LIMIT 1
      `;
      if (!row) return undefined;
      const approvalKey = await cipher.decrypt(
        row.approval_key,
        approvalKeyBinding(row.account_id),
      );
      const found = { approvalKey, expiresAt: row.expires_at };
      if (row.account_id !== accountId) await write(sql, accountId, key, found, await seal(found));
      return found;
    }

    /** Encrypted for this account's row, outside any transaction (the cipher may need a connection). */
    function seal(approval: ValidApprovalKey) {
      return cipher.encrypt(approval.approvalKey, approvalKeyBinding(accountId));
    }
  }

  /** Writes the account's key, already encrypted for its row. */
  async function write(
    db: Sql | TransactionSql,
    accountId: number,
    key: string,
    approval: ValidApprovalKey,
    ciphertext: string,
  ) {
    await db`
      INSERT INTO securities_approval_keys (account_id, credential_key, approval_key, expires_at, issued_at)
      VALUES (${accountId}, ${key}, ${ciphertext}, ${approval.expiresAt}, ${clock.now()})
      ON CONFLICT (account_id) DO UPDATE SET credential_key = EXCLUDED.credential_key,
        approval_key = EXCLUDED.approval_key, expires_at = EXCLUDED.expires_at, issued_at = EXCLUDED.issued_at
    `;
  }

  return { ensure };
}

import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import {
  type AccountBrokerCredentials,
  accountBinding,
  type CredentialStamp,
  inactiveAccount,
  loadBrokerCredentials,
  tokenBinding,
} from "../accounts";
import { BrokerError, BrokerRateLimitedError, type BrokerRegistry, bearerType } from "../brokers";
import { type Clock, systemClock } from "../clock";
import type { Cipher } from "../crypto";
import type { Sql } from "../db";
import { type Logger, silentLogger } from "../log";
import { createApprovalKeys, type ValidApprovalKey } from "./approval";
import {
  CredentialsChangedError,
  TokenIssuanceDeferredError,
  TokenNotRenewedError,
} from "./errors";
import { DEFAULT_TOKEN_SETTINGS, type TokenSettings } from "./settings";
import { type TokenStatusReport, tokenStatus } from "./status";
import {
  type Attempt,
  claimIssuanceSlot,
  commitToken,
  credentialKey,
  markFailed,
  markRejected,
  possibleTokenHolders,
  readStoredToken,
  recordAttempt,
  releaseIssuanceSlot,
  type StoredToken,
} from "./store";

/** A token ready to use. */
export interface ValidToken {
  accessToken: string;
  tokenType: string;
  expiresAt: Date;
}

/** How an issuance request ended when it did not throw. */
export type IssueOutcome = "issued" | "current" | "reused";

export interface TokenServiceDependencies {
  sql: Sql;
  cipher: Cipher;
  brokers: BrokerRegistry;
  clock?: Clock;
  logger?: Logger;
  settings?: Partial<TokenSettings>;
  /** Names this process in issuance leases; random by default. */
  owner?: string;
}

interface IssueRequest {
  trigger: string;
  /** A token expiring at or before this is not good enough. */
  validBeyond: Date;
  /** A token refreshed before this is not good enough (forced refresh). */
  refreshedSince?: Date;
  /** How long to wait for another issuer or the broker's pace; 0 = not at all. */
  waitMs: number;
  /**
   * When the caller stops listening (an API request's gateway timeout). No
   * issuance slot is claimed unless a broker call still fits before it: a
   * token issued and then lost to the timeout costs the owner a KakaoTalk
   * message and a minute of pace for nothing.
   */
  deadline?: Date | undefined;
}

/** What an API caller may pass: when its request will be cut off. */
export interface TokenRequestOptions {
  deadline?: Date;
  /** The token row as the caller just read it (the gateway reads it with its pacing), so it is not read again. */
  alreadyRead?: { stored: StoredToken | undefined };
}

const LEASE_POLL_MS = 100;

/**
 * The token lifecycle of securities accounts: a cached token when it is good,
 * otherwise exactly one issuance per (broker, environment, app key) at a
 * time across every process, paced to the broker's limit, written with its
 * legacy mirror in one transaction. A failed issuance never touches the
 * stored token.
 */
export function createTokenService(deps: TokenServiceDependencies) {
  const { sql, cipher, brokers } = deps;
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger ?? silentLogger;
  const settings: TokenSettings = { ...DEFAULT_TOKEN_SETTINGS, ...deps.settings };
  const owner = deps.owner ?? `${process.pid}-${randomUUID()}`;
  const approvals = createApprovalKeys({
    sql,
    cipher,
    brokers,
    clock,
    logger,
    owner,
    leaseMs: settings.issueLeaseMs,
  });

  const after = (ms: number) => new Date(clock.now().getTime() + ms);
  const good = (stored: StoredToken | undefined, request: IssueRequest): stored is StoredToken =>
    !!stored &&
    !stored.rejected &&
    stored.expiresAt.getTime() > request.validBeyond.getTime() &&
    (!request.refreshedSince ||
      stored.lastRefreshedAt.getTime() >= request.refreshedSince.getTime());

  async function decrypted(stored: StoredToken): Promise<ValidToken> {
    return {
      accessToken: await cipher.decrypt(stored.ciphertext, tokenBinding(stored.accountId)),
      tokenType: bearerType(stored.tokenType),
      expiresAt: stored.expiresAt,
    };
  }

  /** The token's two ciphertexts: the store's and the legacy mirror's, each bound to its place. */
  async function encryptForBoth(accessToken: string, accountId: number) {
    const [storeCiphertext, mirrorCiphertext] = await Promise.all([
      cipher.encrypt(accessToken, tokenBinding(accountId)),
      cipher.encrypt(accessToken, accountBinding("access_token", accountId)),
    ]);
    return { storeCiphertext, mirrorCiphertext };
  }

  function backoff(failures: number): number {
    return Math.min(settings.backoffBaseMs * 2 ** Math.max(0, failures - 1), settings.backoffMaxMs);
  }

  /**
   * Makes sure the account holds a token meeting `request`, issuing one when
   * needed. Returns how: the current token was fine, a sibling account's
   * token for the same app key was reused, or a new one was issued.
   */
  async function ensureToken(
    accountId: number,
    request: IssueRequest,
    /** The token row as the caller just read it, so it is not read again. */
    alreadyRead?: { stored: StoredToken | undefined },
  ): Promise<{ token: ValidToken; outcome: IssueOutcome }> {
    try {
      return await ensureTokenOnce(accountId, request, alreadyRead);
    } catch (error) {
      // The credentials changed under the issuance, which was discarded: once
      // more with the account as it is now (new key, or 409/404 if deactivated or deleted).
      if (error instanceof CredentialsChangedError) return ensureTokenOnce(accountId, request);
      throw error;
    }
  }

  async function ensureTokenOnce(
    accountId: number,
    request: IssueRequest,
    alreadyRead?: { stored: StoredToken | undefined },
  ): Promise<{ token: ValidToken; outcome: IssueOutcome }> {
    const [credentials, firstRead] = await Promise.all([
      loadBrokerCredentials(sql, cipher, accountId),
      alreadyRead ? alreadyRead.stored : readStoredToken(sql, accountId),
    ]);
    const client = brokers.get(credentials.broker);
    const key = credentialKey(credentials.broker, credentials.environment, credentials.appKey);
    // KIS hands back the same token for 6 h after an issue: a window wider
    // than its cap would ask again (and message the owner) for nothing.
    const widest = clock.now().getTime() + client.maxRefreshWindowMs;
    if (request.validBeyond.getTime() > widest) {
      request = { ...request, validBeyond: new Date(widest) };
    }
    // The last moment a claim may still be made: within the wait, and early
    // enough that the broker call (its timeout and the commit) ends before the caller's deadline.
    const claimBy = Math.min(
      clock.now().getTime() + request.waitMs,
      request.deadline ? request.deadline.getTime() - settings.issueCallBudgetMs : Infinity,
    );
    for (let round = 0; ; round++) {
      const stored = round === 0 ? firstRead : await readStoredToken(sql, accountId);
      if (good(stored, request)) return { token: await decrypted(stored), outcome: "current" };
      const now = clock.now();
      if (now.getTime() > claimBy && request.deadline) throw tooLateToIssue(accountId);
      const claim = await claimIssuanceSlot(sql, {
        key,
        broker: credentials.broker,
        environment: credentials.environment,
        owner,
        leaseMs: settings.issueLeaseMs,
        minIntervalMs: client.minIssueIntervalMs,
      });
      if (claim.granted) return issueUnderLease(credentials, key, request, stored);
      // The slot's times are on the database's clock: wait out durations, not instants.
      const leased = claim.leaseLeftMs > 0;
      // Another issuer may have finished between our read and our claim.
      const latest = await readStoredToken(sql, accountId);
      if (good(latest, request)) return { token: await decrypted(latest), outcome: "current" };
      if (!leased && claim.lastAccountId && claim.lastAccountId !== accountId) {
        const reused = await reuseSiblingToken(credentials, claim.lastAccountId, request);
        if (reused) return { token: reused, outcome: "reused" };
      }
      const readyAt =
        now.getTime() + (leased ? Math.min(claim.leaseLeftMs, LEASE_POLL_MS) : claim.paceLeftMs);
      if (readyAt > claimBy) {
        const retryAfterMs = Math.max(1000, leased ? claim.leaseLeftMs : claim.paceLeftMs);
        throw new TokenIssuanceDeferredError(
          leased
            ? `another process is issuing the token for account ${accountId}`
            : `${credentials.broker} allows one token issue per app key every ${Math.round(client.minIssueIntervalMs / 1000)} s`,
          retryAfterMs,
        );
      }
      await sleep(Math.max(10, Math.min(readyAt - now.getTime(), 1000)));
    }
  }

  async function issueUnderLease(
    credentials: AccountBrokerCredentials,
    key: string,
    request: IssueRequest,
    previous: StoredToken | undefined,
  ): Promise<{ token: ValidToken; outcome: IssueOutcome }> {
    const { accountId, broker, environment } = credentials;
    const client = brokers.get(broker);
    const started = clock.now();
    const brokerCredentials = {
      environment,
      appKey: credentials.appKey,
      appSecret: credentials.appSecret,
    };
    let committed = false;
    let discarded: string | undefined;
    let revokedFirst = false;
    try {
      const current = previous
        ? await cipher.decrypt(previous.ciphertext, tokenBinding(accountId))
        : undefined;
      if (previous?.rejected && current) {
        // KIS hands back the same token within 6 hours: retire the rejected one first.
        await client
          .revokeToken(brokerCredentials, current)
          .catch(dropped("rejected_token_not_revoked", accountId));
      } else if (
        request.refreshedSince &&
        client.sameTokenWithinMs > 0 &&
        previous &&
        current &&
        previous.expiresAt > started
      ) {
        // A forced refresh wants a different token, and KIS would hand this
        // one back: revoke it first. A failed revoke stops here, nothing changed.
        await client.revokeToken(brokerCredentials, current);
        revokedFirst = true;
      }
      const issued = await client.issueToken(brokerCredentials);
      if (revokedFirst && issued.accessToken === current) {
        // Revoked, yet handed back: never report the old token as a new one.
        throw new TokenNotRenewedError(
          `${broker} handed back the current token: nothing was renewed`,
        );
      }
      const { storeCiphertext, mirrorCiphertext } = await encryptForBoth(
        issued.accessToken,
        accountId,
      );
      const refreshedAt = clock.now();
      committed = await commitToken(
        sql,
        {
          accountId,
          storeCiphertext,
          mirrorCiphertext,
          tokenType: issued.tokenType,
          expiresIn: issued.expiresIn,
          expiresAt: issued.expiresAt,
          refreshedAt,
          credentialKey: key,
        },
        { stamp: await stampToCommitUnder(credentials, key) },
        {
          accountId,
          at: refreshedAt,
          action: "issue",
          outcome: "ok",
          trigger: request.trigger,
          broker,
          environment,
          durationMs: refreshedAt.getTime() - started.getTime(),
        },
        { key, owner },
      );
      if (!committed) {
        discarded = issued.accessToken;
      } else {
        logger.info(
          {
            event: "token_issued",
            account_id: accountId,
            broker,
            environment,
            trigger: request.trigger,
            expires_at: issued.expiresAt,
          },
          "issued a broker token",
        );
        return {
          token: {
            accessToken: issued.accessToken,
            tokenType: issued.tokenType,
            expiresAt: issued.expiresAt,
          },
          outcome: "issued",
        };
      }
    } catch (error) {
      if (error instanceof TokenNotRenewedError) {
        await releaseIssuanceSlot(sql, { key, owner });
        throw error;
      }
      // The stored token is revoked at the broker: the next read must issue.
      if (revokedFirst && previous) await markRejected(sql, accountId, previous.lastRefreshedAt);
      await recordFailure(credentials, key, request.trigger, started, error);
      throw error;
    }
    // Issued under credentials the account no longer has: not stored, and
    // revoked unless another account on the old key holds the same token.
    logger.warn(
      { event: "token_discarded", account_id: accountId, broker, trigger: request.trigger },
      "the account's credentials changed while its token was issued; the token was not stored",
    );
    await revoke(credentials, discarded as string, "credentials_changed_during_issue");
    throw new CredentialsChangedError(accountId);
  }

  /**
   * The account row's stamp to guard the commit with. A token belongs to its
   * app key: when only what does not bind it changed during the issue (the
   * account number, the name), the row as it is now; when the broker, the
   * environment, the key or the secret changed, or the account went away or
   * was deactivated, the stamp it was issued under, which the commit refuses.
   */
  async function stampToCommitUnder(
    issuedUnder: AccountBrokerCredentials,
    key: string,
  ): Promise<CredentialStamp> {
    const now = await loadBrokerCredentials(sql, cipher, issuedUnder.accountId).catch(
      dropped("token_account_unusable", issuedUnder.accountId),
    );
    return stampOf(
      now &&
        credentialKey(now.broker, now.environment, now.appKey) === key &&
        now.appSecret === issuedUnder.appSecret
        ? now
        : issuedUnder,
    );
  }

  async function recordFailure(
    credentials: AccountBrokerCredentials,
    key: string,
    trigger: string,
    started: Date,
    error: unknown,
  ): Promise<void> {
    const { accountId, broker, environment } = credentials;
    const now = clock.now();
    const brokerCode = error instanceof BrokerError ? error.brokerCode : undefined;
    const code = error instanceof BrokerError ? error.code : "internal_error";
    const message =
      error instanceof BrokerError ? error.message : "unexpected error while issuing (see logs)";
    const notBefore =
      error instanceof BrokerRateLimitedError
        ? new Date(now.getTime() + error.retryAfterMs)
        : undefined;
    await sql
      .begin(async (tx) => {
        await recordAttempt(tx, {
          accountId,
          at: now,
          action: "issue",
          outcome: "failed",
          trigger,
          broker,
          environment,
          brokerCode,
          message,
          durationMs: now.getTime() - started.getTime(),
        });
        await markFailed(tx, {
          accountId,
          at: now,
          code: brokerCode ?? code,
          message,
          backoff,
          notBefore,
        });
        await releaseIssuanceSlot(tx, {
          key,
          owner,
          notBeforeMs: error instanceof BrokerRateLimitedError ? error.retryAfterMs : undefined,
        });
      })
      .catch(dropped("token_failure_not_recorded", accountId));
    logger.warn(
      {
        event: "token_issue_failed",
        account_id: accountId,
        broker,
        environment,
        trigger,
        code,
        broker_code: brokerCode,
      },
      `token issuance failed: ${message}`,
    );
  }

  /** Another account with the same app key got a token moments ago: share it instead of asking again. */
  async function reuseSiblingToken(
    credentials: AccountBrokerCredentials,
    siblingId: number,
    request: IssueRequest,
  ): Promise<ValidToken | undefined> {
    const sibling = await readStoredToken(sql, siblingId);
    if (!good(sibling, { ...request, refreshedSince: undefined })) return undefined;
    const siblingCredentials = await loadBrokerCredentials(sql, cipher, siblingId).catch(
      () => undefined,
    );
    if (
      !siblingCredentials ||
      credentialKey(
        siblingCredentials.broker,
        siblingCredentials.environment,
        siblingCredentials.appKey,
      ) !== credentialKey(credentials.broker, credentials.environment, credentials.appKey)
    ) {
      return undefined;
    }
    const token = await decrypted(sibling);
    const { accountId } = credentials;
    const { storeCiphertext, mirrorCiphertext } = await encryptForBoth(
      token.accessToken,
      accountId,
    );
    const now = clock.now();
    const stored = await commitToken(
      sql,
      {
        accountId,
        storeCiphertext,
        mirrorCiphertext,
        tokenType: token.tokenType,
        expiresIn: Math.max(0, Math.round((token.expiresAt.getTime() - now.getTime()) / 1000)),
        expiresAt: token.expiresAt,
        refreshedAt: now,
        credentialKey: credentialKey(
          credentials.broker,
          credentials.environment,
          credentials.appKey,
        ),
      },
      // The sibling must still hold the token as read: one being deleted or
      // re-keyed may be revoking it right now (it checks for holders after).
      {
        stamp: stampOf(credentials),
        source: { accountId: siblingId, refreshedAt: sibling.lastRefreshedAt },
      },
      {
        accountId,
        at: now,
        action: "reuse",
        outcome: "ok",
        trigger: request.trigger,
        broker: credentials.broker,
        environment: credentials.environment,
        message: `shared the token of account ${siblingId}, which uses the same app key`,
      },
    );
    return stored ? token : undefined;
  }

  /** A failure the caller goes on without (a best-effort revoke, its history row, an unreadable holder): logged, never thrown. */
  function dropped(event: string, accountId: number) {
    return (err: unknown): undefined => {
      logger.error({ event, account_id: accountId, err }, event);
    };
  }

  /** Another account still holding this very token (same app key), if any. */
  async function otherHolder(
    credentials: AccountBrokerCredentials,
    accessToken: string,
  ): Promise<number | undefined> {
    const key = credentialKey(credentials.broker, credentials.environment, credentials.appKey);
    for (const holder of await possibleTokenHolders(
      sql,
      key,
      credentials.broker,
      credentials.accountId,
    )) {
      const held = await cipher
        .decrypt(holder.ciphertext, tokenBinding(holder.accountId))
        .catch(dropped("token_holder_unreadable", holder.accountId));
      if (held === accessToken) return holder.accountId;
    }
    return undefined;
  }

  /**
   * Revokes a token at the broker, best effort: the outcome is recorded and
   * logged, never thrown (the account may already be gone).
   *
   * Accounts on one app key share one token (the service copies it, and KIS
   * hands back the same token within 6 hours), so a token that another
   * account still holds is NOT revoked: the account letting go of it only
   * drops its own copy, and the last holder to let go revokes it. Call this
   * after the account's own copy is gone, so that it does not count itself.
   */
  async function revoke(
    credentials: AccountBrokerCredentials,
    accessToken: string,
    trigger: string,
  ): Promise<{ revoked: boolean; heldBy?: number }> {
    const started = clock.now();
    // The revoke happened (or was skipped) whatever becomes of its history row.
    const record = (
      at: Date,
      attempt: Pick<Attempt, "outcome" | "brokerCode" | "message" | "durationMs">,
    ) =>
      recordAttempt(sql, {
        accountId: credentials.accountId,
        at,
        action: "revoke",
        trigger,
        broker: credentials.broker,
        environment: credentials.environment,
        ...attempt,
      }).catch(dropped("token_attempt_not_recorded", credentials.accountId));
    const heldBy = await otherHolder(credentials, accessToken);
    if (heldBy !== undefined) {
      await record(started, {
        outcome: "skipped",
        message: `not revoked: account ${heldBy} holds the same token (same app key)`,
      });
      logger.info(
        {
          event: "token_revoke_skipped",
          account_id: credentials.accountId,
          held_by: heldBy,
          broker: credentials.broker,
          trigger,
        },
        "kept a broker token another account on the same app key still holds",
      );
      return { revoked: false, heldBy };
    }
    let revoked = false;
    let error: unknown;
    try {
      await brokers.get(credentials.broker).revokeToken(
        {
          environment: credentials.environment,
          appKey: credentials.appKey,
          appSecret: credentials.appSecret,
        },
        accessToken,
      );
      revoked = true;
    } catch (caught) {
      error = caught;
    }
    const now = clock.now();
    await record(now, {
      outcome: revoked ? "ok" : "failed",
      brokerCode: error instanceof BrokerError ? error.brokerCode : undefined,
      message:
        error instanceof BrokerError
          ? error.message
          : error
            ? "revoke failed (see logs)"
            : undefined,
      durationMs: now.getTime() - started.getTime(),
    });
    logger[revoked ? "info" : "warn"](
      {
        event: revoked ? "token_revoked" : "token_revoke_failed",
        account_id: credentials.accountId,
        broker: credentials.broker,
        trigger,
      },
      revoked ? "revoked a broker token" : "could not revoke a broker token",
    );
    return { revoked };
  }

  return {
    /** A token valid beyond the safety margin: the cached one, or one issuance shared by all callers. */
    async getValidToken(accountId: number, options: TokenRequestOptions = {}): Promise<ValidToken> {
      const stored = options.alreadyRead
        ? options.alreadyRead.stored
        : await readStoredToken(sql, accountId);
      const request: IssueRequest = {
        trigger: stored ? "expiring" : "missing",
        validBeyond: after(settings.safetyMarginMs),
        waitMs: settings.issueWaitMs,
        deadline: options.deadline,
      };
      if (stored && !stored.active) throw inactiveAccount(accountId);
      if (good(stored, request)) return decrypted(stored);
      return (await ensureToken(accountId, request, { stored })).token;
    },

    /** A token issued after this call began (one issuance even when several callers force at once). */
    async forceRefresh(accountId: number, options: TokenRequestOptions = {}): Promise<ValidToken> {
      const requestedAt = clock.now();
      return (
        await ensureToken(accountId, {
          trigger: "force",
          validBeyond: requestedAt,
          refreshedSince: requestedAt,
          waitMs: settings.issueWaitMs,
          deadline: options.deadline,
        })
      ).token;
    },

    /**
     * The broker rejected the account's token: the next getValidToken issues
     * a fresh one, once, however many callers report it. With `reportedToken`,
     * only that token is marked (a late report about an older token is ignored).
     */
    async invalidate(accountId: number, reportedToken?: string): Promise<{ invalidated: boolean }> {
      const credentials = await loadBrokerCredentials(sql, cipher, accountId);
      const stored = await readStoredToken(sql, accountId);
      if (!stored) return { invalidated: false };
      if (reportedToken !== undefined) {
        const current = await cipher.decrypt(stored.ciphertext, tokenBinding(accountId));
        if (current !== reportedToken) return { invalidated: false };
      }
      const now = clock.now();
      await sql.begin(async (tx) => {
        await markRejected(tx, accountId, stored.lastRefreshedAt);
        await recordAttempt(tx, {
          accountId,
          at: now,
          action: "invalidate",
          outcome: "ok",
          trigger: "reported",
          broker: credentials.broker,
          environment: credentials.environment,
          message: "a caller reported that the broker rejected the token",
        });
      });
      logger.info(
        { event: "token_invalidated", account_id: accountId, broker: credentials.broker },
        "token reported as rejected by the broker",
      );
      return { invalidated: true };
    },

    revoke,

    /**
     * The account's credentials changed, or it was deactivated: its token
     * (issued under the old app key) is removed from the store and the
     * mirror at once, then revoked at the broker with the old credentials,
     * best effort, unless another account on that key still holds it. Its
     * websocket approval key goes too (KIS offers no revoke for those). The
     * next getValidToken issues under the new key (or, inactive, none).
     */
    async retireToken(previous: AccountBrokerCredentials, trigger: string): Promise<void> {
      const [row] = await sql<{ access_token: string }[]>`
        WITH retired AS (
          DELETE FROM securities_tokens WHERE account_id = ${previous.accountId} RETURNING access_token
        ), approval AS (
          DELETE FROM securities_approval_keys WHERE account_id = ${previous.accountId}
        ), unmirrored AS (
          UPDATE accounts SET access_token = NULL, token_expires_at = NULL
          WHERE id = ${previous.accountId} AND EXISTS (SELECT 1 FROM retired)
          RETURNING id
        )
        SELECT access_token, (SELECT count(*) FROM unmirrored) AS unmirrored FROM retired
      `;
      if (!row) return;
      const accessToken = await cipher.decrypt(row.access_token, tokenBinding(previous.accountId));
      await revoke(previous, accessToken, trigger);
    },

    /** The account's KIS websocket approval key: the stored one while good, else one issuance shared by all callers. */
    async getApprovalKey(accountId: number): Promise<ValidApprovalKey> {
      const validBeyond = after(settings.safetyMarginMs);
      return (await approvals.ensure(accountId, validBeyond, settings.issueWaitMs, "read")).key;
    },

    /** For the refresh job: make the account's approval key good beyond `validBeyond`, never waiting. */
    refreshApprovalKey(accountId: number, validBeyond: Date) {
      return approvals.ensure(accountId, validBeyond, 0, "refresh");
    },

    /** For the refresh job: make the account's token good beyond `validBeyond`, never waiting. */
    refreshAccount(accountId: number, validBeyond: Date) {
      return ensureToken(accountId, { trigger: "refresh", validBeyond, waitMs: 0 });
    },

    /** The operators' view: every securities account's token health. */
    status(): Promise<TokenStatusReport> {
      return tokenStatus(sql, { now: clock.now(), refreshWindowMs: settings.refreshWindowMs });
    },

    settings,
    owner,
  };
}

export type TokenService = ReturnType<typeof createTokenService>;

function stampOf(credentials: AccountBrokerCredentials): CredentialStamp {
  if (!credentials.stamp) {
    throw new Error("broker credentials without their stored columns cannot guard a token commit");
  }
  return credentials.stamp;
}

/** The caller's deadline leaves no room for a broker call: nothing was claimed or sent. */
function tooLateToIssue(accountId: number): TokenIssuanceDeferredError {
  return new TokenIssuanceDeferredError(
    `too little time is left in this request to issue the token of account ${accountId} safely; ask again`,
    1000,
  );
}

import { setTimeout as sleep } from "node:timers/promises";
import {
  type AccountBrokerCredentials,
  type CredentialStamp,
  loadBrokerCredentials,
  tokenBinding,
} from "../accounts";
import { BrokerError, BrokerRateLimitedError } from "../brokers";
import {
  CredentialsChangedError,
  TokenIssuanceDeferredError,
  TokenNotRenewedError,
} from "./errors";
import {
  decryptStoredToken,
  dropped,
  encryptForBoth,
  type IssueOutcome,
  type IssueRequest,
  meetsRequest,
  stampOf,
  type TokenContext,
  type ValidToken,
} from "./service-context";
import { reuseSiblingToken, revokeUnlessHeld } from "./sharing";
import {
  claimIssuanceSlot,
  commitToken,
  credentialKey,
  markFailed,
  markRejected,
  readStoredToken,
  recordAttempt,
  releaseIssuanceSlot,
  type StoredToken,
} from "./store";

// Exactly one issuance per (broker, environment, app key) at a time across
// every process: an issuer holds that key's issuance slot (a lease on the
// database's clock, paced to the broker's limit) from its claim until its
// token is committed with its legacy mirror in one transaction. A failed
// issuance never touches the stored token.

const LEASE_POLL_MS = 100;

/**
 * Makes sure the account holds a token meeting `request`, issuing one when
 * needed. Returns how: the current token was fine, a sibling account's
 * token for the same app key was reused, or a new one was issued.
 */
export async function ensureToken(
  ctx: TokenContext,
  accountId: number,
  request: IssueRequest,
  /** The token row as the caller just read it, so it is not read again. */
  alreadyRead?: { stored: StoredToken | undefined },
): Promise<{ token: ValidToken; outcome: IssueOutcome }> {
  try {
    return await ensureTokenOnce(ctx, accountId, request, alreadyRead);
  } catch (error) {
    // The credentials changed under the issuance, which was discarded: once
    // more with the account as it is now (new key, or 409/404 if deactivated or deleted).
    if (error instanceof CredentialsChangedError) return ensureTokenOnce(ctx, accountId, request);
    throw error;
  }
}

async function ensureTokenOnce(
  ctx: TokenContext,
  accountId: number,
  request: IssueRequest,
  alreadyRead?: { stored: StoredToken | undefined },
): Promise<{ token: ValidToken; outcome: IssueOutcome }> {
  const { sql, cipher, brokers, clock, settings, owner } = ctx;
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
    if (meetsRequest(stored, request)) {
      return { token: await decryptStoredToken(cipher, stored), outcome: "current" };
    }
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
    if (claim.granted) return issueUnderLease(ctx, credentials, key, request, stored);
    // The slot's times are on the database's clock: wait out durations, not instants.
    const leased = claim.leaseLeftMs > 0;
    // Another issuer may have finished between our read and our claim.
    const latest = await readStoredToken(sql, accountId);
    if (meetsRequest(latest, request)) {
      return { token: await decryptStoredToken(cipher, latest), outcome: "current" };
    }
    if (!leased && claim.lastAccountId && claim.lastAccountId !== accountId) {
      const reused = await reuseSiblingToken(ctx, credentials, claim.lastAccountId, request);
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
  ctx: TokenContext,
  credentials: AccountBrokerCredentials,
  key: string,
  request: IssueRequest,
  previous: StoredToken | undefined,
): Promise<{ token: ValidToken; outcome: IssueOutcome }> {
  const { sql, cipher, brokers, clock, logger, owner } = ctx;
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
        .catch(dropped(logger, "rejected_token_not_revoked", accountId));
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
      cipher,
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
      { stamp: await stampToCommitUnder(ctx, credentials, key) },
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
    await recordFailure(ctx, credentials, key, request.trigger, started, error);
    throw error;
  }
  // Issued under credentials the account no longer has: not stored, and
  // revoked unless another account on the old key holds the same token.
  logger.warn(
    { event: "token_discarded", account_id: accountId, broker, trigger: request.trigger },
    "the account's credentials changed while its token was issued; the token was not stored",
  );
  await revokeUnlessHeld(ctx, credentials, discarded as string, "credentials_changed_during_issue");
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
  ctx: TokenContext,
  issuedUnder: AccountBrokerCredentials,
  key: string,
): Promise<CredentialStamp> {
  const now = await loadBrokerCredentials(ctx.sql, ctx.cipher, issuedUnder.accountId).catch(
    dropped(ctx.logger, "token_account_unusable", issuedUnder.accountId),
  );
  return stampOf(
    now &&
      credentialKey(now.broker, now.environment, now.appKey) === key &&
      now.appSecret === issuedUnder.appSecret
      ? now
      : issuedUnder,
  );
}

/** The failed issue's history row and backoff, and the slot released (with the broker's pace when it named one). */
async function recordFailure(
  ctx: TokenContext,
  credentials: AccountBrokerCredentials,
  key: string,
  trigger: string,
  started: Date,
  error: unknown,
): Promise<void> {
  const { sql, clock, logger, settings, owner } = ctx;
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
  const backoff = (failures: number): number =>
    Math.min(settings.backoffBaseMs * 2 ** Math.max(0, failures - 1), settings.backoffMaxMs);
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
    .catch(dropped(logger, "token_failure_not_recorded", accountId));
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

/** The caller's deadline leaves no room for a broker call: nothing was claimed or sent. */
function tooLateToIssue(accountId: number): TokenIssuanceDeferredError {
  return new TokenIssuanceDeferredError(
    `too little time is left in this request to issue the token of account ${accountId} safely; ask again`,
    1000,
  );
}

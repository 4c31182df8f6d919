import { type AccountBrokerCredentials, loadBrokerCredentials, tokenBinding } from "../accounts";
import { BrokerError } from "../brokers";
import {
  decryptStoredToken,
  dropped,
  encryptForBoth,
  type IssueRequest,
  meetsRequest,
  stampOf,
  type TokenContext,
  type ValidToken,
} from "./service-context";
import {
  type Attempt,
  commitToken,
  credentialKey,
  possibleTokenHolders,
  readStoredToken,
  recordAttempt,
} from "./store";

// Accounts on one app key share one token: the service copies it to a
// sibling rather than asking the broker again, and KIS hands back the same
// token within 6 hours anyway. So a token is revoked only by its last holder.

/** What became of a revoke: done, or skipped because another account still holds the token. */
export interface RevokeResult {
  revoked: boolean;
  /** The account that still holds the token, when the revoke was skipped for it. */
  heldBy?: number;
}

/**
 * Another account with the same app key got a token moments ago: share it
 * instead of asking again. Undefined when the sibling's token does not meet
 * the request, the sibling is on another key now, or the copy was refused.
 */
export async function reuseSiblingToken(
  ctx: TokenContext,
  credentials: AccountBrokerCredentials,
  siblingId: number,
  request: IssueRequest,
): Promise<ValidToken | undefined> {
  const { sql, cipher, clock } = ctx;
  const sibling = await readStoredToken(sql, siblingId);
  if (!meetsRequest(sibling, { ...request, refreshedSince: undefined })) return undefined;
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
  const token = await decryptStoredToken(cipher, sibling);
  const { accountId } = credentials;
  const { storeCiphertext, mirrorCiphertext } = await encryptForBoth(
    cipher,
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
      credentialKey: credentialKey(credentials.broker, credentials.environment, credentials.appKey),
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

/** Another account still holding this very token (same app key), if any. */
async function otherHolder(
  ctx: TokenContext,
  credentials: AccountBrokerCredentials,
  accessToken: string,
): Promise<number | undefined> {
  const key = credentialKey(credentials.broker, credentials.environment, credentials.appKey);
  for (const holder of await possibleTokenHolders(
    ctx.sql,
    key,
    credentials.broker,
    credentials.accountId,
  )) {
    const held = await ctx.cipher
      .decrypt(holder.ciphertext, tokenBinding(holder.accountId))
      .catch(dropped(ctx.logger, "token_holder_unreadable", holder.accountId));
    if (held === accessToken) return holder.accountId;
  }
  return undefined;
}

/**
 * Revokes a token at the broker, best effort, unless another account on the
 * same app key still holds it (TokenService.revoke). Call it after the
 * account's own copy is gone, so that it does not count itself.
 */
export async function revokeUnlessHeld(
  ctx: TokenContext,
  credentials: AccountBrokerCredentials,
  accessToken: string,
  trigger: string,
): Promise<RevokeResult> {
  const { sql, brokers, clock, logger } = ctx;
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
    }).catch(dropped(logger, "token_attempt_not_recorded", credentials.accountId));
  const heldBy = await otherHolder(ctx, credentials, accessToken);
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
      error instanceof BrokerError ? error.message : error ? "revoke failed (see logs)" : undefined,
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

/**
 * Removes the account's token from the store and the mirror at once (and
 * its approval key), then revokes it with the credentials it was issued
 * under, unless another account still holds it (TokenService.retireToken).
 */
export async function retireToken(
  ctx: TokenContext,
  previous: AccountBrokerCredentials,
  trigger: string,
): Promise<void> {
  const [row] = await ctx.sql<{ access_token: string }[]>`
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
  const accessToken = await ctx.cipher.decrypt(row.access_token, tokenBinding(previous.accountId));
  await revokeUnlessHeld(ctx, previous, accessToken, trigger);
}

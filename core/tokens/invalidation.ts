import { loadBrokerCredentials, tokenBinding } from "../accounts";
import type { TokenContext } from "./service-context";
import { markRejected, readStoredToken, recordAttempt } from "./store";

/**
 * Marks the account's stored token rejected, so that the next read issues
 * a fresh one, once, however many callers report it (TokenService.invalidate).
 * With `reportedToken`, only that token is marked: a late report about an
 * older token is ignored.
 */
export async function invalidateToken(
  ctx: TokenContext,
  accountId: number,
  reportedToken?: string,
): Promise<{ invalidated: boolean }> {
  const { sql, cipher, clock, logger } = ctx;
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
}

import {
  type AccountBrokerCredentials,
  accountBinding,
  type CredentialStamp,
  tokenBinding,
} from "../accounts";
import { type BrokerRegistry, bearerType } from "../brokers";
import type { Clock } from "../clock";
import type { Cipher } from "../crypto";
import type { Sql } from "../db";
import type { Logger } from "../log";
import type { TokenSettings } from "./settings";
import type { StoredToken } from "./store";

/** A token ready to use. */
export interface ValidToken {
  accessToken: string;
  tokenType: string;
  expiresAt: Date;
}

/** How an issuance request ended when it did not throw. */
export type IssueOutcome = "issued" | "current" | "reused";

/**
 * What the token service's parts (issuance, sharing, invalidation) share:
 * its dependencies with the defaults filled in, resolved once per service.
 */
export interface TokenContext {
  sql: Sql;
  cipher: Cipher;
  brokers: BrokerRegistry;
  clock: Clock;
  logger: Logger;
  settings: TokenSettings;
  /** Names this process in issuance leases. */
  owner: string;
}

/** What a token must meet for one caller, and how long that caller waits for one. */
export interface IssueRequest {
  trigger: string;
  /** A token expiring at or before this is not good enough. */
  validBeyond: Date;
  /** A token refreshed before this is not good enough (forced refresh). */
  refreshedSince?: Date | undefined;
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

/** The stored token is good enough for `request`: not rejected, valid long enough, fresh enough. */
export function meetsRequest(
  stored: StoredToken | undefined,
  request: IssueRequest,
): stored is StoredToken {
  return (
    !!stored &&
    !stored.rejected &&
    stored.expiresAt.getTime() > request.validBeyond.getTime() &&
    (!request.refreshedSince ||
      stored.lastRefreshedAt.getTime() >= request.refreshedSince.getTime())
  );
}

/** The stored token, decrypted from its row. */
export async function decryptStoredToken(cipher: Cipher, stored: StoredToken): Promise<ValidToken> {
  return {
    accessToken: await cipher.decrypt(stored.ciphertext, tokenBinding(stored.accountId)),
    tokenType: bearerType(stored.tokenType),
    expiresAt: stored.expiresAt,
  };
}

/** The token's two ciphertexts: the store's and the legacy mirror's, each bound to its place. */
export async function encryptForBoth(
  cipher: Cipher,
  accessToken: string,
  accountId: number,
): Promise<{ storeCiphertext: string; mirrorCiphertext: string }> {
  const [storeCiphertext, mirrorCiphertext] = await Promise.all([
    cipher.encrypt(accessToken, tokenBinding(accountId)),
    cipher.encrypt(accessToken, accountBinding("access_token", accountId)),
  ]);
  return { storeCiphertext, mirrorCiphertext };
}

/** A failure the caller goes on without (a best-effort revoke, its history row, an unreadable holder): logged, never thrown. */
export function dropped(logger: Logger, event: string, accountId: number) {
  return (err: unknown): undefined => {
    logger.error({ event, account_id: accountId, err }, event);
  };
}

/** The account row's stored columns a token commit is guarded with. */
export function stampOf(credentials: AccountBrokerCredentials): CredentialStamp {
  if (!credentials.stamp) {
    throw new Error("broker credentials without their stored columns cannot guard a token commit");
  }
  return credentials.stamp;
}

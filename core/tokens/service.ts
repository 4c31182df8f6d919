import { randomUUID } from "node:crypto";
import { type AccountBrokerCredentials, inactiveAccount } from "../accounts";
import type { BrokerRegistry } from "../brokers";
import { type Clock, systemClock } from "../clock";
import type { Cipher } from "../crypto";
import type { Sql } from "../db";
import { type Logger, silentLogger } from "../log";
import { type ApprovalKeyOutcome, createApprovalKeys, type ValidApprovalKey } from "./approval";
import { invalidateToken } from "./invalidation";
import { ensureToken } from "./issuance";
import {
  decryptStoredToken,
  type IssueOutcome,
  type IssueRequest,
  meetsRequest,
  type TokenContext,
  type ValidToken,
} from "./service-context";
import { DEFAULT_TOKEN_SETTINGS, type TokenSettings } from "./settings";
import { type RevokeResult, retireToken, revokeUnlessHeld } from "./sharing";
import { type TokenStatusReport, tokenStatus } from "./status";
import { readStoredToken, type StoredToken } from "./store";

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

/** What an API caller may pass: when its request will be cut off. */
export interface TokenRequestOptions {
  deadline?: Date;
  /** The token row as the caller just read it (the gateway reads it with its pacing), so it is not read again. */
  alreadyRead?: { stored: StoredToken | undefined };
}

/**
 * The token lifecycle of securities accounts: a cached token when it is good,
 * otherwise exactly one issuance per (broker, environment, app key) at a
 * time across every process, paced to the broker's limit, written with its
 * legacy mirror in one transaction. A failed issuance never touches the
 * stored token.
 *
 * The methods do not use `this`: they may be passed around unbound, and the
 * service spread into a decorated copy (core/service measures token reads so).
 */
export interface TokenService {
  /**
   * A token valid beyond the safety margin: the cached one, or one issuance
   * shared by all callers. Throws NotFoundError or ConflictError for a
   * missing or inactive account, a BrokerError when the issue fails, and
   * TokenIssuanceDeferredError when the broker's pace, another issuer or
   * `options.deadline` leaves no room to issue within the wait.
   */
  getValidToken(accountId: number, options?: TokenRequestOptions): Promise<ValidToken>;

  /** A token issued after this call began (one issuance even when several callers force at once). */
  forceRefresh(accountId: number, options?: TokenRequestOptions): Promise<ValidToken>;

  /**
   * The broker rejected the account's token: the next getValidToken issues
   * a fresh one, once, however many callers report it. With `reportedToken`,
   * only that token is marked (a late report about an older token is ignored).
   */
  invalidate(accountId: number, reportedToken?: string): Promise<{ invalidated: boolean }>;

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
  revoke(
    credentials: AccountBrokerCredentials,
    accessToken: string,
    trigger: string,
  ): Promise<RevokeResult>;

  /**
   * The account's credentials changed, or it was deactivated: its token
   * (issued under the old app key) is removed from the store and the
   * mirror at once, then revoked at the broker with the old credentials,
   * best effort, unless another account on that key still holds it. Its
   * websocket approval key goes too (KIS offers no revoke for those). The
   * next getValidToken issues under the new key (or, inactive, none).
   */
  retireToken(previous: AccountBrokerCredentials, trigger: string): Promise<void>;

  /** The account's KIS websocket approval key: the stored one while good, else one issuance shared by all callers. */
  getApprovalKey(accountId: number): Promise<ValidApprovalKey>;

  /** For the refresh job: make the account's approval key good beyond `validBeyond`, never waiting. */
  refreshApprovalKey(
    accountId: number,
    validBeyond: Date,
  ): Promise<{ key: ValidApprovalKey; outcome: ApprovalKeyOutcome }>;

  /** For the refresh job: make the account's token good beyond `validBeyond`, never waiting. */
  refreshAccount(
    accountId: number,
    validBeyond: Date,
  ): Promise<{ token: ValidToken; outcome: IssueOutcome }>;

  /** The operators' view: every securities account's token health. */
  status(): Promise<TokenStatusReport>;

  /** The settings in force: the defaults with the given ones over them. */
  readonly settings: TokenSettings;

  /** Names this process in issuance leases. */
  readonly owner: string;
}

/**
 * The token service over the given database, cipher and broker clients.
 *
 * @example
 * const tokens = createTokenService({ sql, cipher, brokers, logger });
 * const { accessToken, tokenType } = await tokens.getValidToken(accountId);
 */
export function createTokenService(deps: TokenServiceDependencies): TokenService {
  const ctx: TokenContext = {
    sql: deps.sql,
    cipher: deps.cipher,
    brokers: deps.brokers,
    clock: deps.clock ?? systemClock,
    logger: deps.logger ?? silentLogger,
    settings: { ...DEFAULT_TOKEN_SETTINGS, ...deps.settings },
    owner: deps.owner ?? `${process.pid}-${randomUUID()}`,
  };
  const { sql, cipher, brokers, clock, logger, settings, owner } = ctx;
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

  return {
    async getValidToken(accountId, options = {}) {
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
      if (meetsRequest(stored, request)) return decryptStoredToken(cipher, stored);
      return (await ensureToken(ctx, accountId, request, { stored })).token;
    },

    async forceRefresh(accountId, options = {}) {
      const requestedAt = clock.now();
      return (
        await ensureToken(ctx, accountId, {
          trigger: "force",
          validBeyond: requestedAt,
          refreshedSince: requestedAt,
          waitMs: settings.issueWaitMs,
          deadline: options.deadline,
        })
      ).token;
    },

    invalidate: (accountId, reportedToken) => invalidateToken(ctx, accountId, reportedToken),

    revoke: (credentials, accessToken, trigger) =>
      revokeUnlessHeld(ctx, credentials, accessToken, trigger),

    retireToken: (previous, trigger) => retireToken(ctx, previous, trigger),

    async getApprovalKey(accountId) {
      const validBeyond = after(settings.safetyMarginMs);
      return (await approvals.ensure(accountId, validBeyond, settings.issueWaitMs, "read")).key;
    },

    refreshApprovalKey(accountId, validBeyond) {
      return approvals.ensure(accountId, validBeyond, 0, "refresh");
    },

    refreshAccount(accountId, validBeyond) {
      return ensureToken(ctx, accountId, { trigger: "refresh", validBeyond, waitMs: 0 });
    },

    status() {
      return tokenStatus(sql, { now: clock.now(), refreshWindowMs: settings.refreshWindowMs });
    },

    settings,
    owner,
  };
}

import { getAccount } from "../accounts";
import { BROKER_ADAPTERS } from "../brokers/adapters";
import type { Cipher } from "../crypto";
import type { Sql } from "../db";
import type { Logger } from "../log";
import type { TokenService } from "../tokens";
import { credentialKey } from "../tokens";
import type { FillCatchUp } from "./catch-up";
import { type AccountInfo, HubRefusal, protocolOf, type SessionEntry } from "./entry";
import type { FanOut } from "./fanout";
import { claimLease } from "./lease";
import { BrokerSession } from "./session";
import type { StreamSettings } from "./settings";
import type { HubStats } from "./stats";

/** The hub's broker side: accounts, one leased session per app key, its credentials. */
export interface HubSessions {
  /** The account as the hub needs it (cached); a HubRefusal when it cannot stream. */
  accountInfo(accountId: number): Promise<AccountInfo>;
  /** The app key's entry for this account, leased (and its session opened) when free. */
  entryFor(account: AccountInfo): Promise<SessionEntry>;
  /** The heartbeat: renews held leases, takes free ones, lets go of lost ones. */
  renewLeases(): Promise<void>;
}

export function createHubSessions(deps: {
  sql: Sql;
  cipher: Cipher;
  tokens: Pick<TokenService, "getApprovalKey" | "getValidToken" | "invalidate">;
  settings: StreamSettings;
  logger: Logger;
  owner: string;
  entries: Map<string, SessionEntry>;
  stats: HubStats;
  fanout: FanOut;
  catchUp: FillCatchUp;
  isClosed(): boolean;
}): HubSessions {
  const { sql, cipher, tokens, settings, logger, owner, entries, stats, fanout, catchUp } = deps;
  const accounts = new Map<number, AccountInfo>();

  async function accountInfo(accountId: number): Promise<AccountInfo> {
    const cached = accounts.get(accountId);
    if (cached) return cached;
    const account = await getAccount(sql, cipher, accountId).catch(
      (error: Error & { code?: string }) => {
        if (error.code === "account_not_found")
          throw new HubRefusal("account_not_found", `account ${accountId} does not exist`);
        throw error;
      },
    );
    if (!account.broker || !account.environment || !account.apiKey || !account.securitiesConfig) {
      throw new HubRefusal(
        "not_a_securities_account",
        `account ${accountId} is not a securities account with broker credentials`,
      );
    }
    if (!account.isActive)
      throw new HubRefusal("account_inactive", `account ${accountId} is inactive`);
    const info: AccountInfo = {
      id: account.id,
      broker: account.broker,
      environment: account.environment,
      appKey: account.apiKey,
      accountNumber: account.securitiesConfig.account_number,
      htsId: account.securitiesConfig.hts_id,
      dayOrdersAccount: BROKER_ADAPTERS[account.broker].orders.accountParams(
        account.securitiesConfig,
      ),
    };
    accounts.set(accountId, info);
    return info;
  }

  async function entryFor(account: AccountInfo): Promise<SessionEntry> {
    const key = credentialKey(`${account.broker}:stream`, account.environment, account.appKey);
    let entry = entries.get(key);
    if (!entry) {
      entry = {
        key,
        broker: account.broker,
        environment: account.environment,
        protocol: protocolOf(account.broker),
        accounts: new Map(),
        session: undefined,
        leased: false,
        refs: new Map(),
        topics: new Map(),
        storing: Promise.resolve(),
      };
      entries.set(key, entry);
    }
    entry.accounts.set(account.id, account);
    if (!entry.leased) await takeLease(entry);
    return entry;
  }

  async function takeLease(entry: SessionEntry) {
    const granted = await claimLease(sql, entry.key, owner, settings.leaseMs);
    if (granted && !entry.leased && !deps.isClosed()) {
      entry.leased = true;
      openSession(entry);
    } else if (!granted && entry.leased) {
      // Lost (this process stalled past its lease, another hub took over): let go at once.
      logger.error(
        { broker: entry.broker },
        "stream lease lost to another hub; closing this session",
      );
      entry.leased = false;
      entry.session?.stop();
      entry.session = undefined;
    }
  }

  async function renewLeases() {
    for (const entry of entries.values()) {
      if (entry.refs.size === 0 && !entry.leased) continue;
      try {
        await takeLease(entry);
      } catch (error) {
        logger.warn(
          { err: (error as Error).message },
          "stream lease renewal failed; trying again at the next heartbeat",
        );
      }
    }
  }

  function openSession(entry: SessionEntry) {
    const log = logger.child({ broker: entry.broker, environment: entry.environment });
    const session = new BrokerSession({
      protocol: entry.protocol,
      environment: entry.environment,
      url: settings.wsUrls[entry.broker][entry.environment],
      settings,
      logger: log,
      credential: (fresh, refused) => credentialFor(entry, fresh, refused),
      onRecords: (records) => fanout.route(entry, records),
      onState: (state, detail) => fanout.sessionState(entry, state, detail),
      // Fills sent while this session was down: no broker replays them.
      onReady: () => catchUp.watched(entry),
      onCount: (what) => {
        if (what === "frame") stats.framesIn += 1;
        else if (what === "reconnect") stats.reconnects += 1;
        else stats.conflicts += 1;
      },
    });
    entry.session = session;
    for (const { registration } of entry.refs.values())
      void session.add(registration).catch((error: unknown) => {
        // The session registers it again after its next (re)connect.
        log.warn(
          { event: "stream_registration_deferred", err: error },
          "registration not sent yet",
        );
      });
    session.start();
  }

  async function credentialFor(
    entry: SessionEntry,
    fresh: boolean,
    refused?: string,
  ): Promise<string> {
    const account = entry.accounts.values().next().value as AccountInfo;
    if (entry.protocol.login === "approval_key")
      return (await tokens.getApprovalKey(account.id)).approvalKey;
    if (fresh && refused) await tokens.invalidate(account.id, refused);
    return (await tokens.getValidToken(account.id)).accessToken;
  }

  return { accountInfo, entryFor, renewLeases };
}

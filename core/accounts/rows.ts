import { findBrokerAdapter } from "../brokers/adapters";
import type { Cipher } from "../crypto";
import type { Sql, TransactionSql } from "../db";
import { NotFoundError } from "../errors";
import { accountBinding } from "./encrypted-columns";
import type {
  Account,
  AccountBrokerCredentials,
  AccountType,
  BrokerEnvironment,
  SecuritiesConfig,
} from "./types";

// An accounts row as the repository reads it, and the Account it decrypts to.

export type Db = Sql | TransactionSql;

export interface AccountRow {
  id: number;
  name: string;
  exchange: string;
  api_key: string | null;
  api_secret: string | null;
  is_active: boolean;
  account_type: string;
  securities_config: string | null;
  token_expires_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export const COLUMNS = [
  "id",
  "name",
  "exchange",
  "api_key",
  "api_secret",
  "is_active",
  "account_type",
  "securities_config",
  "token_expires_at",
  "created_at",
  "updated_at",
];

/** The row with its secrets decrypted, each under its own row-and-column binding. */
export async function decryptAccount(cipher: Cipher, row: AccountRow): Promise<Account> {
  // Only the legacy crypto system wrote plaintext, and only into these two
  // columns; a securities account's secrets were always encrypted.
  const legacy = row.account_type === "CRYPTO" ? { allowLegacyPlaintext: true } : {};
  const [apiKey, apiSecret, config] = await Promise.all([
    row.api_key === null
      ? null
      : cipher.decrypt(row.api_key, accountBinding("api_key", row.id), legacy),
    row.api_secret === null
      ? null
      : cipher.decrypt(row.api_secret, accountBinding("api_secret", row.id), legacy),
    row.securities_config === null
      ? null
      : cipher.decrypt(row.securities_config, accountBinding("securities_config", row.id)),
  ]);
  return toAccount(row, {
    apiKey,
    apiSecret,
    securitiesConfig: config === null ? null : (JSON.parse(config) as SecuritiesConfig),
  });
}

/** The row and its decrypted secrets as an Account; `broker` is set when the exchange names a registered broker. */
export function toAccount(
  row: AccountRow,
  secrets: {
    apiKey: string | null;
    apiSecret: string | null;
    securitiesConfig: SecuritiesConfig | null;
  },
): Account {
  const isSecurities = row.account_type === "SECURITIES_STOCK";
  return {
    id: row.id,
    name: row.name,
    accountType: row.account_type as AccountType,
    exchange: row.exchange,
    broker: isSecurities ? (findBrokerAdapter(row.exchange)?.broker ?? null) : null,
    environment: isSecurities
      ? ((secrets.securitiesConfig?.environment ?? "real") as BrokerEnvironment)
      : null,
    apiKey: secrets.apiKey,
    apiSecret: secrets.apiSecret,
    securitiesConfig: secrets.securitiesConfig,
    isActive: row.is_active,
    tokenExpiresAt: row.token_expires_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** What a broker call needs of a securities account; null for any other account, or one without keys. */
export function brokerCredentialsOf(account: Account): AccountBrokerCredentials | null {
  if (!account.broker || !account.environment || !account.apiKey || !account.apiSecret) return null;
  return {
    accountId: account.id,
    broker: account.broker,
    environment: account.environment,
    appKey: account.apiKey,
    appSecret: account.apiSecret,
  };
}

export function accountNotFound(accountId: number): NotFoundError {
  return new NotFoundError("account_not_found", `account ${accountId} does not exist`);
}

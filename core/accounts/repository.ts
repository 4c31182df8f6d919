import type { Cipher } from "../crypto";
import type { Sql, TransactionSql } from "../db";
import { ConflictError, NotFoundError, ValidationError } from "../errors";
import { accountBinding, tokenBinding } from "./encrypted-columns";
import { type CreateAccountRequest, securitiesRules, type UpdateAccountRequest } from "./schemas";
import type {
  Account,
  AccountBrokerCredentials,
  AccountType,
  Broker,
  BrokerEnvironment,
  SecuritiesConfig,
} from "./types";

type Db = Sql | TransactionSql;

interface AccountRow {
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

const COLUMNS = [
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

/**
 * Creates an account with its secrets encrypted and bound to its id: the id
 * is taken from the sequence first, so the row is written once, complete.
 */
export async function createAccount(
  sql: Db,
  cipher: Cipher,
  input: CreateAccountRequest,
): Promise<Account> {
  const [next] = await sql<
    { id: number }[]
  >`SELECT nextval(pg_get_serial_sequence('accounts', 'id'))::int AS id`;
  const id = next?.id as number;
  const config = input.account_type === "SECURITIES_STOCK" ? toConfig(input) : null;
  const [apiKey, apiSecret, securitiesConfig] = await Promise.all([
    cipher.encrypt(input.api_key, accountBinding("api_key", id)),
    cipher.encrypt(input.api_secret, accountBinding("api_secret", id)),
    config ? cipher.encrypt(JSON.stringify(config), accountBinding("securities_config", id)) : null,
  ]);
  const [row] = await sql<AccountRow[]>`
    INSERT INTO accounts (id, name, exchange, api_key, api_secret, account_type, securities_config)
    VALUES (${id}, ${input.name}, ${input.exchange}, ${apiKey}, ${apiSecret}, ${input.account_type}, ${securitiesConfig})
    RETURNING ${sql(COLUMNS)}`;
  return toAccount(row as AccountRow, {
    apiKey: input.api_key,
    apiSecret: input.api_secret,
    securitiesConfig: config,
  });
}

/** One account with its secrets decrypted; NotFoundError when there is none. */
export async function getAccount(sql: Db, cipher: Cipher, accountId: number): Promise<Account> {
  const [row] = await sql<
    AccountRow[]
  >`SELECT ${sql(COLUMNS)} FROM accounts WHERE id = ${accountId}`;
  if (!row) throw accountNotFound(accountId);
  return decryptAccount(cipher, row);
}

/** Accounts by id, optionally of one type (served by idx_account_type). */
export async function listAccounts(
  sql: Db,
  cipher: Cipher,
  options: { type?: AccountType } = {},
): Promise<Account[]> {
  const rows = options.type
    ? await sql<
        AccountRow[]
      >`SELECT ${sql(COLUMNS)} FROM accounts WHERE account_type = ${options.type} ORDER BY id`
    : await sql<AccountRow[]>`SELECT ${sql(COLUMNS)} FROM accounts ORDER BY id`;
  return Promise.all(rows.map((row) => decryptAccount(cipher, row)));
}

export interface UpdateAccountResult {
  account: Account;
  /**
   * The broker app key, secret, broker or environment changed: the token
   * issued with the previous credentials should be revoked and a new one issued.
   */
  credentialsChanged: boolean;
  /** The credentials before the change (securities accounts whose credentials changed). */
  previousCredentials: AccountBrokerCredentials | null;
}

/**
 * Applies a validated patch. Rules that depend on the stored account (the
 * broker's account number format, securities-only fields) are checked on the
 * merged result; nothing is written when they fail.
 */
export async function updateAccount(
  sql: Db,
  cipher: Cipher,
  accountId: number,
  patch: UpdateAccountRequest,
): Promise<UpdateAccountResult> {
  return inTransaction(sql, async (tx) => {
    const [row] = await tx<
      AccountRow[]
    >`SELECT ${tx(COLUMNS)} FROM accounts WHERE id = ${accountId} FOR UPDATE`;
    if (!row) throw accountNotFound(accountId);
    const before = await decryptAccount(cipher, row);
    const isSecurities = before.accountType === "SECURITIES_STOCK";
    const exchange = patch.exchange ?? before.exchange;

    let config: SecuritiesConfig | null = before.securitiesConfig;
    if (isSecurities) {
      const { environment: storedEnvironment, ...stored } =
        before.securitiesConfig ?? ({} as Partial<SecuritiesConfig>);
      const merged = { ...stored, ...(patch.securities_config ?? {}) };
      const issues = securitiesRules({
        account_type: before.accountType,
        exchange,
        securities_config: merged,
      });
      const missing = (["account_number", "market_type"] as const).filter(
        (field) => merged[field] === undefined,
      );
      for (const field of missing)
        issues.push({ field: `securities_config.${field}`, message: "is required" });
      if (issues.length > 0) throw new ValidationError(issues);
      config = {
        ...(merged as SecuritiesConfig),
        environment: patch.environment ?? storedEnvironment ?? "real",
      };
    } else {
      const issues = securitiesRules({
        account_type: before.accountType,
        exchange,
        environment: patch.environment,
        securities_config: patch.securities_config,
      });
      if (issues.length > 0) throw new ValidationError(issues);
    }

    const apiKey = patch.api_key ?? before.apiKey;
    const apiSecret = patch.api_secret ?? before.apiSecret;
    const credentialsChanged =
      apiKey !== before.apiKey ||
      apiSecret !== before.apiSecret ||
      exchange !== before.exchange ||
      (config?.environment ?? null) !== before.environment;

    const changes: Record<string, unknown> = {};
    if (patch.name !== undefined) changes.name = patch.name;
    if (patch.is_active !== undefined) changes.is_active = patch.is_active;
    if (patch.exchange !== undefined) changes.exchange = patch.exchange;
    // Legacy plaintext api keys are left as they are unless the patch replaces them.
    if (patch.api_key !== undefined)
      changes.api_key = await cipher.encrypt(patch.api_key, accountBinding("api_key", accountId));
    if (patch.api_secret !== undefined) {
      changes.api_secret = await cipher.encrypt(
        patch.api_secret,
        accountBinding("api_secret", accountId),
      );
    }
    if (
      isSecurities &&
      (patch.securities_config !== undefined || patch.environment !== undefined)
    ) {
      changes.securities_config = await cipher.encrypt(
        JSON.stringify(config),
        accountBinding("securities_config", accountId),
      );
    }
    const [updated] = await tx<AccountRow[]>`
      UPDATE accounts SET ${tx(changes)}, updated_at = CURRENT_TIMESTAMP
      WHERE id = ${accountId}
      RETURNING ${tx(COLUMNS)}`;
    const account = toAccount(updated as AccountRow, {
      apiKey,
      apiSecret,
      securitiesConfig: config,
    });
    return {
      account,
      credentialsChanged,
      previousCredentials: credentialsChanged ? brokerCredentialsOf(before) : null,
    };
  });
}

export interface DeletedAccount {
  account: Account;
  /** What revoking the account's token at the broker needs; null when there is nothing to revoke. */
  revoke: { credentials: AccountBrokerCredentials; accessToken: string } | null;
}

/** Deletes an account (its token row goes with it, ON DELETE CASCADE) and returns what revoking its token needs. */
export async function deleteAccount(
  sql: Db,
  cipher: Cipher,
  accountId: number,
): Promise<DeletedAccount> {
  return inTransaction(sql, async (tx) => {
    const [row] = await tx<
      AccountRow[]
    >`SELECT ${tx(COLUMNS)} FROM accounts WHERE id = ${accountId} FOR UPDATE`;
    if (!row) throw accountNotFound(accountId);
    const account = await decryptAccount(cipher, row);
    const [token] = await tx<{ access_token: string }[]>`
      SELECT access_token FROM securities_tokens WHERE account_id = ${accountId}`;
    const [mirror] = await tx<{ access_token: string | null }[]>`
      SELECT access_token FROM accounts WHERE id = ${accountId}`;
    await tx`DELETE FROM accounts WHERE id = ${accountId}`;
    const credentials = brokerCredentialsOf(account);
    let accessToken: string | null = null;
    if (token) accessToken = await cipher.decrypt(token.access_token, tokenBinding(accountId));
    else if (mirror?.access_token) {
      accessToken = await cipher.decrypt(
        mirror.access_token,
        accountBinding("access_token", accountId),
      );
    }
    return { account, revoke: credentials && accessToken ? { credentials, accessToken } : null };
  });
}

/**
 * The broker, environment and decrypted app key pair of an active securities
 * account. NotFoundError for no account; ConflictError for a crypto account,
 * one without keys, or an inactive one.
 */
export async function loadBrokerCredentials(
  sql: Db,
  cipher: Cipher,
  accountId: number,
): Promise<AccountBrokerCredentials> {
  return (await loadVersionedBrokerCredentials(sql, cipher, accountId)).credentials;
}

/**
 * The same, with the row's `updated_at`: a caller that keeps the decrypted
 * credentials can tell from it that they changed.
 */
export async function loadVersionedBrokerCredentials(
  sql: Db,
  cipher: Cipher,
  accountId: number,
): Promise<{ credentials: AccountBrokerCredentials; updatedAt: Date }> {
  const account = await getAccount(sql, cipher, accountId);
  const credentials = brokerCredentialsOf(account);
  if (!credentials) {
    throw new ConflictError(
      "account_not_securities",
      `account ${accountId} is not a securities account with a broker app key and secret`,
    );
  }
  if (!account.isActive) throw inactiveAccount(accountId);
  return { credentials, updatedAt: account.updatedAt };
}

/** A deactivated account gets no broker token: deactivating it stops its trading. */
export function inactiveAccount(accountId: number): ConflictError {
  return new ConflictError(
    "account_inactive",
    `account ${accountId} is inactive: set is_active to true to use its broker token again`,
  );
}

function brokerCredentialsOf(account: Account): AccountBrokerCredentials | null {
  if (!account.broker || !account.environment || !account.apiKey || !account.apiSecret) return null;
  return {
    accountId: account.id,
    broker: account.broker,
    environment: account.environment,
    appKey: account.apiKey,
    appSecret: account.apiSecret,
  };
}

async function decryptAccount(cipher: Cipher, row: AccountRow): Promise<Account> {
  const legacy = { allowLegacyPlaintext: true };
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

function toAccount(
  row: AccountRow,
  secrets: {
    apiKey: string | null;
    apiSecret: string | null;
    securitiesConfig: SecuritiesConfig | null;
  },
): Account {
  const isSecurities = row.account_type === "SECURITIES_STOCK";
  const broker =
    isSecurities && (row.exchange === "KIS" || row.exchange === "KIWOOM")
      ? (row.exchange as Broker)
      : null;
  return {
    id: row.id,
    name: row.name,
    accountType: row.account_type as AccountType,
    exchange: row.exchange,
    broker,
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

function toConfig(input: CreateAccountRequest): SecuritiesConfig {
  const config = input.securities_config as NonNullable<CreateAccountRequest["securities_config"]>;
  return {
    account_number: config.account_number,
    ...(config.product_code !== undefined ? { product_code: config.product_code } : {}),
    market_type: config.market_type,
    ...(config.cert_password !== undefined ? { cert_password: config.cert_password } : {}),
    additional_params: config.additional_params ?? {},
    environment: input.environment ?? "real",
  };
}

function accountNotFound(accountId: number): NotFoundError {
  return new NotFoundError("account_not_found", `account ${accountId} does not exist`);
}

/** Runs `fn` in a transaction, or in a savepoint when `sql` already is one, so callers can compose. */
async function inTransaction<T>(sql: Db, fn: (tx: TransactionSql) => Promise<T>): Promise<T> {
  if ("savepoint" in sql) return (await sql.savepoint((tx) => fn(tx))) as T;
  return (await (sql as Sql).begin((tx) => fn(tx))) as T;
}

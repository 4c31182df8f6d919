import { type Cipher, CryptoError } from "../crypto";
import { ConflictError, ValidationError } from "../errors";
import { accountBinding, tokenBinding } from "./encrypted-columns";
import {
  type AccountRow,
  accountNotFound,
  brokerCredentialsOf,
  COLUMNS,
  type Db,
  decryptAccount,
  toAccount,
} from "./rows";
import { type CreateAccountRequest, securitiesRules, type UpdateAccountRequest } from "./schemas";
import type { Account, AccountBrokerCredentials, AccountType, SecuritiesConfig } from "./types";

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

/** An account row that could not be decrypted, listed in its place with the reason. */
export interface UnreadableAccount {
  id: number;
  error: { code: string; message: string };
}

/** One page of accounts by id, and the id to continue after (null on the last page). */
export interface AccountPage {
  accounts: (Account | UnreadableAccount)[];
  nextAfter: number | null;
}

/**
 * A page of accounts by id, optionally of one type (served by
 * idx_account_type), after the id `after`. A row whose ciphertext cannot be
 * opened (altered, mis-bound, an unknown data key) is listed as its error
 * instead of failing the page; a key service that is down still fails it.
 */
export async function listAccounts(
  sql: Db,
  cipher: Cipher,
  options: { type?: AccountType; limit: number; after?: number },
): Promise<AccountPage> {
  const after = options.after ?? 0;
  const rows = await sql<AccountRow[]>`
    SELECT ${sql(COLUMNS)} FROM accounts
    WHERE id > ${after} ${options.type ? sql`AND account_type = ${options.type}` : sql``}
    ORDER BY id LIMIT ${options.limit + 1}`;
  const page = rows.slice(0, options.limit);
  const accounts = await Promise.all(
    page.map((row) =>
      decryptAccount(cipher, row).catch((error: unknown): UnreadableAccount => {
        if (error instanceof CryptoError && error.kind === "internal") {
          return { id: row.id, error: { code: error.code, message: error.message } };
        }
        if (error instanceof SyntaxError) {
          return {
            id: row.id,
            error: {
              code: "securities_config_malformed",
              message: `accounts.securities_config of account ${row.id} decrypts to something that is not JSON`,
            },
          };
        }
        throw error;
      }),
    ),
  );
  return {
    accounts,
    nextAfter: rows.length > options.limit ? (page[page.length - 1]?.id ?? null) : null,
  };
}

export interface UpdateAccountResult {
  account: Account;
  /**
   * The broker app key, secret, broker or environment changed: the token
   * issued with the previous credentials should be revoked and a new one issued.
   */
  credentialsChanged: boolean;
  /** The credentials before the change (securities accounts whose credentials changed or that were deactivated). */
  previousCredentials: AccountBrokerCredentials | null;
  /** The patch turned an active account inactive: its token should be revoked and removed. */
  deactivated: boolean;
}

/** How often a patch is re-read and re-applied when another write changed the account's secrets meanwhile. */
const UPDATE_ATTEMPTS = 5;

/**
 * Applies a validated patch. Rules that depend on the stored account (the
 * broker's account number format, securities-only fields) are checked on the
 * merged result; nothing is written when they fail.
 *
 * No transaction holds a row lock while the cipher works: decrypting can need
 * a pooled connection of its own (a data key not yet unwrapped), and ten
 * patches each holding a connection while waiting for an eleventh deadlock a
 * pool of ten. So the row is read and decrypted first, the new values
 * encrypted, and the write is a compare-and-set on the secret columns read:
 * when another write changed them meanwhile, the patch is merged again.
 */
export async function updateAccount(
  sql: Db,
  cipher: Cipher,
  accountId: number,
  patch: UpdateAccountRequest,
): Promise<UpdateAccountResult> {
  for (let attempt = 1; ; attempt++) {
    const [row] = await sql<
      AccountRow[]
    >`SELECT ${sql(COLUMNS)} FROM accounts WHERE id = ${accountId}`;
    if (!row) throw accountNotFound(accountId);
    const before = await decryptAccount(cipher, row);
    const planned = await planUpdate(cipher, before, patch);
    const [updated] = await sql<AccountRow[]>`
      UPDATE accounts SET ${sql(planned.changes)}, updated_at = CURRENT_TIMESTAMP
      WHERE id = ${accountId}
        AND exchange = ${row.exchange}
        AND account_type = ${row.account_type}
        AND api_key IS NOT DISTINCT FROM ${row.api_key}
        AND api_secret IS NOT DISTINCT FROM ${row.api_secret}
        AND securities_config IS NOT DISTINCT FROM ${row.securities_config}
      RETURNING ${sql(COLUMNS)}`;
    if (!updated) {
      if (attempt < UPDATE_ATTEMPTS) continue;
      throw new ConflictError(
        "account_changed_concurrently",
        `account ${accountId} kept changing while this change was applied: send it again`,
      );
    }
    const deactivated = before.isActive && !updated.is_active;
    return {
      account: toAccount(updated, planned.secrets),
      credentialsChanged: planned.credentialsChanged,
      previousCredentials:
        planned.credentialsChanged || deactivated ? brokerCredentialsOf(before) : null,
      deactivated,
    };
  }
}

/** The merged account a patch yields: its validated secrets, whether credentials changed, and the columns to write (already encrypted). */
async function planUpdate(cipher: Cipher, before: Account, patch: UpdateAccountRequest) {
  const accountId = before.id;
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
  const [encryptedKey, encryptedSecret, encryptedConfig] = await Promise.all([
    patch.api_key === undefined
      ? undefined
      : cipher.encrypt(patch.api_key, accountBinding("api_key", accountId)),
    patch.api_secret === undefined
      ? undefined
      : cipher.encrypt(patch.api_secret, accountBinding("api_secret", accountId)),
    isSecurities && (patch.securities_config !== undefined || patch.environment !== undefined)
      ? cipher.encrypt(JSON.stringify(config), accountBinding("securities_config", accountId))
      : undefined,
  ]);
  if (encryptedKey !== undefined) changes.api_key = encryptedKey;
  if (encryptedSecret !== undefined) changes.api_secret = encryptedSecret;
  if (encryptedConfig !== undefined) changes.securities_config = encryptedConfig;
  return {
    changes,
    credentialsChanged,
    secrets: { apiKey, apiSecret, securitiesConfig: config },
  };
}

export interface DeletedAccount {
  account: Account;
  /** What revoking the account's token at the broker needs; null when there is nothing to revoke. */
  revoke: { credentials: AccountBrokerCredentials; accessToken: string } | null;
}

/**
 * Deletes an account (its token row goes with it, ON DELETE CASCADE) and
 * returns what revoking its token needs. One statement, and the decryption
 * after it: no row lock is held while the cipher may need a connection.
 */
export async function deleteAccount(
  sql: Db,
  cipher: Cipher,
  accountId: number,
): Promise<DeletedAccount> {
  const [row] = await sql<(AccountRow & { token: string | null; mirror: string | null })[]>`
    WITH token AS (
      SELECT access_token FROM securities_tokens WHERE account_id = ${accountId}
    ), deleted AS (
      DELETE FROM accounts WHERE id = ${accountId}
      RETURNING ${sql(COLUMNS)}, access_token AS mirror
    )
    SELECT deleted.*, (SELECT access_token FROM token) AS token FROM deleted`;
  if (!row) throw accountNotFound(accountId);
  const account = await decryptAccount(cipher, row);
  const credentials = brokerCredentialsOf(account);
  let accessToken: string | null = null;
  if (row.token) accessToken = await cipher.decrypt(row.token, tokenBinding(accountId));
  else if (row.mirror) {
    accessToken = await cipher.decrypt(row.mirror, accountBinding("access_token", accountId));
  }
  return { account, revoke: credentials && accessToken ? { credentials, accessToken } : null };
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
  const [row] = await sql<
    AccountRow[]
  >`SELECT ${sql(COLUMNS)} FROM accounts WHERE id = ${accountId}`;
  if (!row) throw accountNotFound(accountId);
  const account = await decryptAccount(cipher, row);
  const credentials = brokerCredentialsOf(account);
  if (!credentials) {
    throw new ConflictError(
      "account_not_securities",
      `account ${accountId} is not a securities account with a broker app key and secret`,
    );
  }
  if (!account.isActive) throw inactiveAccount(accountId);
  return {
    credentials: {
      ...credentials,
      stamp: {
        exchange: row.exchange,
        apiKey: row.api_key,
        apiSecret: row.api_secret,
        securitiesConfig: row.securities_config,
      },
    },
    updatedAt: account.updatedAt,
  };
}

/** A deactivated account gets no broker token: deactivating it stops its trading. */
export function inactiveAccount(accountId: number): ConflictError {
  return new ConflictError(
    "account_inactive",
    `account ${accountId} is inactive: set is_active to true to use its broker token again`,
  );
}

function toConfig(input: CreateAccountRequest): SecuritiesConfig {
  const config = input.securities_config as NonNullable<CreateAccountRequest["securities_config"]>;
  return {
    account_number: config.account_number,
    ...(config.product_code !== undefined ? { product_code: config.product_code } : {}),
    market_type: config.market_type,
    ...(config.cert_password !== undefined ? { cert_password: config.cert_password } : {}),
    ...(config.hts_id !== undefined ? { hts_id: config.hts_id } : {}),
    additional_params: config.additional_params ?? {},
    environment: input.environment ?? "real",
  };
}

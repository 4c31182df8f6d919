import type {
  Account,
  AccountType,
  AdditionalParams,
  BrokerEnvironment,
  MarketType,
} from "./types";

/** An account as responses show it: no secret, identifying numbers masked. */
export interface PublicAccount {
  id: number;
  name: string;
  account_type: AccountType;
  exchange: string;
  environment: BrokerEnvironment | null;
  is_active: boolean;
  /** Last 4 characters only (`****abcd`), or `****` for short keys. */
  api_key: string | null;
  has_api_secret: boolean;
  securities_config: {
    /** `****5678` */
    account_number: string;
    product_code: string | null;
    market_type: MarketType;
    has_cert_password: boolean;
    additional_params: AdditionalParams;
  } | null;
  token_expires_at: string | null;
  created_at: string;
  updated_at: string;
}

/** Shows the last four characters of a value, or nothing when it is short. */
export function maskTail(value: string, visible = 4): string {
  return value.length >= visible * 3 ? `****${value.slice(-visible)}` : "****";
}

/** The response shape of an account: cert_password and api_secret never appear. */
export function toPublicAccount(account: Account): PublicAccount {
  const config = account.securitiesConfig;
  return {
    id: account.id,
    name: account.name,
    account_type: account.accountType,
    exchange: account.exchange,
    environment: account.environment,
    is_active: account.isActive,
    api_key: account.apiKey === null ? null : maskTail(account.apiKey),
    has_api_secret: account.apiSecret !== null,
    securities_config: config
      ? {
          account_number: `****${config.account_number.slice(-4)}`,
          product_code: config.product_code ?? null,
          market_type: config.market_type,
          has_cert_password: Boolean(config.cert_password),
          additional_params: config.additional_params ?? {},
        }
      : null,
    token_expires_at: account.tokenExpiresAt ? account.tokenExpiresAt.toISOString() : null,
    created_at: account.createdAt.toISOString(),
    updated_at: account.updatedAt.toISOString(),
  };
}

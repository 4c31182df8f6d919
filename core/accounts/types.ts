/** What kind of account a row is (accounts.account_type). */
export type AccountType = "CRYPTO" | "SECURITIES_STOCK";

// The broker (stored in accounts.exchange for securities accounts) and its
// environment (kept inside the encrypted securities_config) are the brokers
// domain's words; accounts only store them.
import type { Broker, BrokerEnvironment } from "../brokers/types";

export { BROKER_ENVIRONMENTS, BROKERS } from "../brokers/types";
export type { Broker, BrokerEnvironment };
export type MarketType =
  | "DOMESTIC_STOCK"
  | "OVERSEAS_STOCK"
  | "DOMESTIC_FUTURES_OPTIONS"
  | "OVERSEAS_FUTURES_OPTIONS";

export const ACCOUNT_TYPES = [
  "CRYPTO",
  "SECURITIES_STOCK",
] as const satisfies readonly AccountType[];
export const MARKET_TYPES = [
  "DOMESTIC_STOCK",
  "OVERSEAS_STOCK",
  "DOMESTIC_FUTURES_OPTIONS",
  "OVERSEAS_FUTURES_OPTIONS",
] as const satisfies readonly MarketType[];

export type AdditionalParams = Record<string, string | number | boolean | null>;

/** The decrypted accounts.securities_config, in the seed's snake_case. */
export interface SecuritiesConfig {
  account_number: string;
  product_code?: string;
  market_type: MarketType;
  cert_password?: string;
  /** KIS: the HTS id execution notices are registered with (the realtime hub). */
  hts_id?: string;
  additional_params?: AdditionalParams;
  environment: BrokerEnvironment;
}

/** An account with its secrets decrypted: for core code only, never for responses (see toPublicAccount). */
export interface Account {
  id: number;
  name: string;
  accountType: AccountType;
  /** The exchange's name for crypto; for securities the broker's id (a key of BROKER_ADAPTERS). */
  exchange: string;
  /** Set for securities accounts. */
  broker: Broker | null;
  environment: BrokerEnvironment | null;
  apiKey: string | null;
  apiSecret: string | null;
  securitiesConfig: SecuritiesConfig | null;
  isActive: boolean;
  tokenExpiresAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** What a token service needs to call a broker for one account. */
export interface AccountBrokerCredentials {
  accountId: number;
  broker: Broker;
  environment: BrokerEnvironment;
  appKey: string;
  appSecret: string;
  /** The stored columns these credentials were read from (when loaded from the database). */
  stamp?: CredentialStamp;
}

/**
 * The account's credential columns exactly as stored (ciphertexts): a token
 * issued under these credentials is committed only while the row still holds
 * them, so a PATCH of the key (or a deactivation) during the broker call wins.
 */
export interface CredentialStamp {
  exchange: string;
  apiKey: string | null;
  apiSecret: string | null;
  securitiesConfig: string | null;
}

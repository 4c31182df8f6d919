export { accountBinding, ENCRYPTED_COLUMNS, tokenBinding } from "./encrypted-columns";
export { maskTail, type PublicAccount, toPublicAccount } from "./public";
export {
  type AccountPage,
  createAccount,
  type DeletedAccount,
  deleteAccount,
  getAccount,
  inactiveAccount,
  listAccounts,
  loadBrokerCredentials,
  loadVersionedBrokerCredentials,
  type UnreadableAccount,
  type UpdateAccountResult,
  updateAccount,
} from "./repository";
export {
  type CreateAccountRequest,
  createAccountSchema,
  parseCreateAccount,
  parseUpdateAccount,
  type SecuritiesConfigRequest,
  securitiesConfigSchema,
  securitiesRules,
  toFieldIssues,
  type UpdateAccountRequest,
  updateAccountSchema,
} from "./schemas";
export {
  ACCOUNT_TYPES,
  type Account,
  type AccountBrokerCredentials,
  type AccountType,
  type AdditionalParams,
  BROKER_ENVIRONMENTS,
  BROKERS,
  type Broker,
  type BrokerEnvironment,
  type CredentialStamp,
  MARKET_TYPES,
  type MarketType,
  type SecuritiesConfig,
} from "./types";

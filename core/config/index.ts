export type { DatabaseConnection } from "../db";
export {
  type AuthTokenSigner,
  DatabaseSettingsError,
  databasePooled,
  type ResolveDatabaseUrlOptions,
  resolveDatabaseConnection,
  resolveDatabaseTls,
  resolveDatabaseUrl,
} from "./database-url";
export { positiveIntegerSetting, wholeNumber } from "./integer";

export type { DatabaseConnection } from "../db";
export {
  type AuthTokenSigner,
  DatabaseSettingsError,
  type ResolveDatabaseUrlOptions,
  resolveDatabaseConnection,
  resolveDatabaseTls,
  resolveDatabaseUrl,
} from "./database-url";
export { positiveIntegerSetting, wholeNumber } from "./integer";
export { databasePooled } from "./pooler";

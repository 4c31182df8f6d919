export type { DatabaseConnection } from "../db";
export {
  DatabaseSettingsError,
  type ResolveDatabaseUrlOptions,
  resolveDatabaseConnection,
  resolveDatabaseUrl,
} from "./database-url";
export { positiveIntegerSetting } from "./integer";

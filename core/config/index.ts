export {
  type DatabaseConnection,
  DatabaseSettingsError,
  type ResolveDatabaseUrlOptions,
  resolveDatabaseConnection,
  resolveDatabaseUrl,
} from "./database-url";

export { type BackupResult, dumpDatabase, findOnPath } from "./backup";
export { MigrationDatabaseError, MigrationError, MigrationFilesError } from "./errors";
export { loadMigrations, type Migration, type MigrationScript, parseScript } from "./files";
export {
  type AppliedStep,
  HISTORY_TABLE,
  MIGRATION_LOCK_KEY,
  type MigrateOptions,
  type MigrationAction,
  type MigrationReport,
  type MigrationStatus,
  migrate,
  type PlannedStep,
} from "./runner";
export { splitStatements } from "./split";
export {
  SEED_COLUMNS,
  SEED_INDEXES,
  SEED_QUERIES,
  type Verification,
  verifySeedSchema,
} from "./verify";

export { SnapshotError } from "./errors";
export { createPreMigrationSnapshot, type PreMigrationSnapshotOptions } from "./rds-snapshot";
export { preMigrationSnapshotId, preMigrationSnapshotPrefix } from "./snapshot-name";

/**
 * Where the database is and how to sign in, for the deployed functions: the
 * URL from DATABASE_URL or DB_* with the RDS-managed secret (Secrets Manager)
 * or an RDS IAM token (the RDS signer), and the CA bundle to verify it. An
 * adapter: the AWS SDK clients live here, not in core/config.
 */
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

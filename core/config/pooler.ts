import { DatabaseSettingsError } from "./database-url";

/**
 * Whether the database URL is a transaction pooler: `DB_POOLER=transaction`
 * (the deploy sets it for the functions that connect through RDS Proxy) or
 * `none` (the default: a direct connection). Functions pass the result to
 * createSql's `pooled`, so every process on a pooled path reads it the same way.
 */
export function databasePooled(env: Record<string, string | undefined>): boolean {
  const value = env.DB_POOLER?.trim() || "none";
  if (value !== "none" && value !== "transaction") {
    throw new DatabaseSettingsError(
      "database_settings_invalid",
      `DB_POOLER must be "transaction" or "none", not "${value}".`,
    );
  }
  return value === "transaction";
}

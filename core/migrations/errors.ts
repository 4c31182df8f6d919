import { ServiceError } from "../errors";

/** Why a migration run stopped. `code` is stable; the message is one sentence for a person. */
export class MigrationError extends ServiceError {
  readonly kind = "internal";
}

/** The migrations folder or one of its files cannot be used as it is. */
export class MigrationFilesError extends MigrationError {}

/** The database refused, or could not be reached. */
export class MigrationDatabaseError extends MigrationError {}

interface PostgresLikeError {
  code?: string;
  message?: string;
  errno?: string;
  hostname?: string;
  routine?: string;
}

/**
 * Turns a driver or server error into one sentence naming the cause and what
 * to do, following the seed's troubleshooting section. `where` names the
 * database (password already redacted) or the migration being applied.
 */
export function explainDatabaseError(error: unknown, where: string): MigrationDatabaseError {
  const e = (error ?? {}) as PostgresLikeError;
  const server = e.message ?? String(error);
  const say = (code: string, sentence: string) =>
    new MigrationDatabaseError(code, sentence, { cause: error });
  switch (e.code) {
    case "ECONNREFUSED":
      return say(
        "connection_refused",
        `cannot connect to ${where}: connection refused (is Postgres running there? check DATABASE_URL)`,
      );
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return say(
        "host_not_found",
        `cannot connect to ${where}: host not found (check the host in DATABASE_URL)`,
      );
    case "CONNECT_TIMEOUT":
    case "ETIMEDOUT":
      return say("connect_timeout", `cannot connect to ${where}: the connection timed out`);
    case "28P01":
    case "28000":
      return say(
        "authentication_failed",
        `cannot connect to ${where}: ${server} (check the user and password in DATABASE_URL)`,
      );
    case "3D000":
      return say(
        "database_not_found",
        `cannot connect to ${where}: ${server} (create it, or fix the database name in DATABASE_URL)`,
      );
    case "42501":
      return say(
        "permission_denied",
        `permission denied in ${where}: ${server} (the migration needs ALTER TABLE on accounts and CREATE on the schema: run it as the table owner or a superuser)`,
      );
    case "42P01":
      return say(
        "relation_missing",
        `${where}: ${server} (check the table name with \\dt: the migration expects "accounts")`,
      );
    case "42P07":
      return say(
        "relation_exists",
        `${where}: ${server} (the object already exists: was the migration applied outside the runner?)`,
      );
    case "55P03":
      return say(
        "lock_timeout",
        `${where}: could not get a table lock in time, even after retries (long transactions are holding it: look at pg_stat_activity and try again)`,
      );
    case "57014":
      return say(
        "statement_timeout",
        `${where}: a statement ran past its statement_timeout (raise it with "-- migrate:statement-timeout" in the file, or run in a quieter window)`,
      );
    default:
      return say(e.code ? `postgres_${e.code}` : "database_error", `${where}: ${server}`);
  }
}

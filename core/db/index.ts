import postgres, { type Notice, type Options, type Sql } from "postgres";
import { type Availability, type FailFastOptions, guardAvailability } from "./availability";

export type { ReservedSql, Sql, TransactionSql } from "postgres";
export {
  DatabaseUnavailableError,
  type FailFastOptions,
  isDatabaseUnreachable,
} from "./availability";
export { RUNTIME_DATABASE_ROLE } from "./runtime-role";

/** Options every connection of this service gets, whatever it runs on. */
export interface DatabaseOptions {
  /** Largest pool size; Lambda functions keep this small. */
  max?: number;
  /** Called with each NOTICE the server sends (migrations print progress this way). */
  onNotice?: (notice: Notice) => void;
  /** Shown in pg_stat_activity, so an operator can tell our sessions apart. */
  applicationName?: string;
  /**
   * Answer at once while the database is down instead of queueing (a circuit
   * breaker with a background probe; see availability.ts). For the API,
   * whose callers wait; not for batch work that had rather wait.
   */
  failFast?: FailFastOptions;
}

/** Verify the server's certificate against these CAs (PEM), and its host name. */
export interface DatabaseTls {
  ca: string;
}

/** A database to connect to: its URL, and where the URL carries no password, how to get the current one. */
export interface DatabaseConnection {
  url: string;
  /** Called for each new connection (a rotating secret, an IAM token); absent when the URL holds the password. */
  password?: () => Promise<string>;
  /** TLS verified against a CA bundle; absent: whatever the URL says (local). */
  ssl?: DatabaseTls;
  /**
   * The URL is a transaction pooler (RDS Proxy, PgBouncer in transaction
   * mode; DB_POOLER=transaction): consecutive transactions may run on
   * different server sessions, so no statement is prepared by name. See
   * docs/deploy.md, "Connection budget".
   */
  pooled?: boolean;
}

/**
 * The one way this service opens Postgres: every session runs in UTC (the
 * seed's TIMESTAMP columns hold UTC), and idle connections are closed so that
 * frozen Lambda containers do not pin server slots (the postgres.js README's
 * advice for serverless).
 */
export function createSql(target: string | DatabaseConnection, options: DatabaseOptions = {}): Sql {
  const { url, password, ssl, pooled } =
    typeof target === "string" ? ({ url: target } as DatabaseConnection) : target;
  let availability: Availability | undefined;
  const settings: Options<Record<string, never>> = {
    max: options.max ?? 10,
    idle_timeout: 20,
    max_lifetime: 60 * 30,
    connect_timeout: 10,
    // postgres.js waits out its reconnect backoff before a queued query may
    // fail, and its default grows to 20 s: during an outage 503s took up to
    // 11 s and the first request after it 15 s. Capped at 1 s (with jitter,
    // as postgres.js does) so answers stay fast and recovery is prompt.
    // While a breaker holds the database down, its probe paces the attempts.
    backoff: (retries: number) => (availability?.down ? 0 : reconnectBackoffSeconds(retries)),
    onnotice: options.onNotice ?? (() => {}),
    // Named prepared statements live in one server session; through a
    // transaction pooler the next execution may reach another one.
    prepare: !pooled,
    ...(password ? { password } : {}),
    // An object, not "require": postgres.js then verifies the chain and the host name.
    ...(ssl ? { ssl: { ca: ssl.ca, rejectUnauthorized: true } } : {}),
    types: {
      // TIMESTAMP (without time zone) holds UTC here; postgres.js would read it
      // as local time, which is nine hours wrong on a machine set to Korea time.
      utcTimestamp: {
        to: 1114,
        from: [1114],
        serialize: (value: Date | string) => new Date(value).toISOString(),
        parse: (value: string) => new Date(`${value.replace(" ", "T")}Z`),
      },
    } as never,
    // Startup parameters, not SET: PgBouncer tracks TimeZone and
    // application_name per client and restores them on whichever server
    // session serves the transaction (tested through PgBouncer in
    // test/integration/db-pooler.test.ts). The RDS parameter group's timezone
    // is UTC too (infra/database.ts), so a pooler that dropped them would change nothing.
    connection: {
      TimeZone: "UTC",
      application_name: options.applicationName ?? "securities-support",
    },
  };
  const sql = postgres(url, settings);
  if (!options.failFast) return sql;
  const guarded = guardAvailability(sql, options.failFast);
  availability = guarded.availability;
  return guarded.sql;
}

/** Seconds before the n-th reconnect: 30 ms tripling per failure (postgres.js's curve), at most 1 s, jittered. */
export function reconnectBackoffSeconds(retries: number): number {
  return (0.5 + Math.random() / 2) * Math.min(3 ** retries / 100, 1);
}

/** The database URL with its password replaced, for messages and logs. */
export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "<unparseable DATABASE_URL>";
  }
}

import { randomBytes } from "node:crypto";
import { inject } from "vitest";
import { createSql, RUNTIME_DATABASE_ROLE, type Sql } from "../../core/db";
import { migrate } from "../../core/migrations";
import { closeServerConnections } from "../../dev/pgbouncer";

export interface TestDatabase {
  /** As the owner (the migrations' user). */
  url: string;
  sql: Sql;
  /** As the runtime role (migration 0008), what the service connects as. */
  runtimeUrl: string;
  /**
   * What the API connects to: runtimeUrl, or the same through the run's
   * PgBouncer in transaction mode (TEST_POOLER=pgbouncer), then `pooled`.
   */
  serviceUrl: string;
  pooled: boolean;
  /** Closes the pool and drops the database. */
  drop(): Promise<void>;
}

export interface TestDatabaseOptions {
  /** Apply every migration (default true). */
  migrate?: boolean;
  /** Statements run before migrating, e.g. to build a legacy schema. */
  before?: (sql: Sql) => Promise<void>;
}

/** A database of its own for one test file, on the run's Postgres server. */
export async function createTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const admin = createSql(inject("adminDatabaseUrl"), { max: 1 });
  const name = `t_${randomBytes(6).toString("hex")}`;
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = withDatabase(inject("adminDatabaseUrl"), name);
  const sql = createSql(url, { max: 5 });
  if (options.before) await options.before(sql);
  if (options.migrate ?? true) {
    const report = await migrate({ databaseUrl: url, action: "up", backup: false });
    if (!report.ok) throw new Error(`test database migration failed: ${report.error?.message}`);
  }
  const pooler = inject("poolerUrl");
  return {
    url,
    sql,
    runtimeUrl: runtimeUrl(url),
    serviceUrl: pooler ? throughPooler(runtimeUrl(url), pooler) : runtimeUrl(url),
    pooled: pooler !== "",
    async drop() {
      await sql.end();
      if (pooler) await closeServerConnections(pooler, name);
      const cleanup = createSql(inject("adminDatabaseUrl"), { max: 1 });
      await cleanup.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await cleanup.end();
    },
  };
}

/** `url` with the pooler's host and port. */
export function throughPooler(url: string, poolerUrl: string): string {
  const parsed = new URL(url);
  const pooler = new URL(poolerUrl);
  parsed.hostname = pooler.hostname;
  parsed.port = pooler.port;
  return parsed.toString();
}

/** The same server URL with another database name. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** The password global-setup gives the runtime role on the test server (not a secret: a test fixture). */
export const TEST_RUNTIME_PASSWORD = "runtime-role-test-password";

/**
 * The environment a child process (npm start, npm run refresh) needs to use
 * `url` on the test server. RUNTIME_DATABASE_URL matters: without it the
 * child sets the runtime role's password from its own DATA_DIR, and the role
 * belongs to the whole server, so every other test file's new connections as
 * that role would fail authentication (embedded Postgres checks passwords).
 */
export function childDatabaseEnv(url: string): {
  DATABASE_URL: string;
  RUNTIME_DATABASE_URL: string;
} {
  return { DATABASE_URL: url, RUNTIME_DATABASE_URL: runtimeUrl(url) };
}

/** The URL that connects to the same database as the runtime role. */
export function runtimeUrl(url: string): string {
  const parsed = new URL(url);
  parsed.username = RUNTIME_DATABASE_ROLE;
  parsed.password = TEST_RUNTIME_PASSWORD;
  return parsed.toString();
}

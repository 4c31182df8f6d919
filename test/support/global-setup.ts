import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { createSql, RUNTIME_DATABASE_ROLE } from "../../core/db";
import { startEmbeddedPostgres } from "../../dev/embedded-postgres";
import { startPgBouncer } from "../../dev/pgbouncer";
import { runtimeUrl, TEST_RUNTIME_PASSWORD } from "./database";

declare module "vitest" {
  export interface ProvidedContext {
    /** URL of a server where tests may create and drop their own databases. */
    adminDatabaseUrl: string;
    /** "embedded" or "external", for messages. */
    databaseKind: string;
    /** The same server through PgBouncer in transaction mode (TEST_POOLER=pgbouncer), or "" for direct. */
    poolerUrl: string;
  }
}

/**
 * One Postgres for the whole run: the external server named by DATABASE_URL,
 * or else an embedded one in a temporary directory. Each test file creates
 * its own database on it (test/support/database.ts).
 */
export default async function setup(project: TestProject) {
  const external = process.env.DATABASE_URL;
  if (external) {
    await prepareRuntimeRole(external);
    project.provide("adminDatabaseUrl", external);
    project.provide("databaseKind", "external");
    const stopPooler = await providePooler(project, external);
    return stopPooler;
  }
  const dir = await mkdtemp(join(tmpdir(), "securities-support-test-"));
  await chmod(dir, 0o755);
  const db = await startEmbeddedPostgres({ dataDir: join(dir, "pg"), persistent: false });
  await prepareRuntimeRole(db.url);
  project.provide("adminDatabaseUrl", db.url);
  project.provide("databaseKind", "embedded");
  const stopPooler = await providePooler(project, db.url);
  return async () => {
    await stopPooler();
    await db.stop();
    await rm(dir, { recursive: true, force: true });
  };
}

/**
 * TEST_POOLER=pgbouncer: PgBouncer in transaction mode in front of the run's
 * server, and the local API of the e2e tests connects through it as the
 * deployed API connects through RDS Proxy (test/support/database.ts
 * serviceUrl). Creating and dropping the test databases stays direct.
 */
async function providePooler(project: TestProject, adminUrl: string): Promise<() => Promise<void>> {
  const pooler = process.env.TEST_POOLER?.trim() ?? "";
  if (pooler === "") {
    project.provide("poolerUrl", "");
    return async () => {};
  }
  if (pooler !== "pgbouncer") {
    throw new Error(`TEST_POOLER must be "pgbouncer" or empty, not "${pooler}".`);
  }
  const bouncer = await startPgBouncer({
    serverUrl: adminUrl,
    users: [runtimeUrl(adminUrl)],
    poolSize: 5,
    onLog: (line) => {
      // Test databases come and go: PgBouncer saying it forgot a dropped one is expected.
      if (/ (WARNING|ERROR|FATAL) /.test(line) && !line.includes("dropping database"))
        process.stderr.write(`pgbouncer: ${line}\n`);
    },
  });
  project.provide("poolerUrl", bouncer.url);
  return () => bouncer.stop();
}

/**
 * The runtime role is per server and migration 0008 creates it without a
 * password (in AWS it signs in with IAM); the tests connect as it with a
 * fixed test password. Created here once, before any test file migrates.
 */
async function prepareRuntimeRole(adminUrl: string): Promise<void> {
  const probe = createSql(runtimeUrl(adminUrl), { max: 1 });
  const works = await probe`SELECT 1`.then(
    () => true,
    () => false,
  );
  await probe.end();
  if (works) return;
  const admin = createSql(adminUrl, { max: 1 });
  try {
    const [exists] = await admin`SELECT 1 FROM pg_roles WHERE rolname = ${RUNTIME_DATABASE_ROLE}`;
    await admin.unsafe(
      `${exists ? "ALTER" : "CREATE"} ROLE ${RUNTIME_DATABASE_ROLE} LOGIN NOINHERIT PASSWORD '${TEST_RUNTIME_PASSWORD}'`,
    );
  } finally {
    await admin.end();
  }
}

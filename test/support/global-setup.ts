import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { startEmbeddedPostgres } from "../../dev/embedded-postgres";

declare module "vitest" {
  export interface ProvidedContext {
    /** URL of a server where tests may create and drop their own databases. */
    adminDatabaseUrl: string;
    /** "embedded" or "external", for messages. */
    databaseKind: string;
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
    project.provide("adminDatabaseUrl", external);
    project.provide("databaseKind", "external");
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), "securities-support-test-"));
  await chmod(dir, 0o755);
  const db = await startEmbeddedPostgres({ dataDir: join(dir, "pg"), persistent: false });
  project.provide("adminDatabaseUrl", db.url);
  project.provide("databaseKind", "embedded");
  return async () => {
    await db.stop();
    await rm(dir, { recursive: true, force: true });
  };
}

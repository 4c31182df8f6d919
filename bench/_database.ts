import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSql } from "../core/db";
import { startEmbeddedPostgres } from "../dev/embedded-postgres";

export interface BenchServer {
  /** A fresh database on the server (a copy of `template`'s database when given), dropped by `close`. */
  database(name: string, options?: { template?: string }): Promise<string>;
  kind: "embedded" | "external";
  /** The server's admin URL (its own database), to watch the others from. */
  adminUrl: string;
  close(): Promise<void>;
}

/** DATABASE_URL's server, or a throwaway embedded Postgres, for one benchmark run. */
export async function benchServer(): Promise<BenchServer> {
  const external = process.env.DATABASE_URL;
  let adminUrl: string;
  let stop = async () => {};
  if (external) {
    adminUrl = external;
  } else {
    const dir = await mkdtemp(join(tmpdir(), "securities-support-bench-"));
    await chmod(dir, 0o755);
    const server = await startEmbeddedPostgres({ dataDir: join(dir, "pg"), persistent: false });
    adminUrl = server.url;
    stop = async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    };
  }
  const admin = createSql(adminUrl, { max: 1 });
  const created: string[] = [];
  return {
    kind: external ? "external" : "embedded",
    adminUrl,
    async database(name, options = {}) {
      const db = `bench_${name}_${process.pid}`;
      await admin.unsafe(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      const template = options.template
        ? ` TEMPLATE ${new URL(options.template).pathname.slice(1)}`
        : "";
      await admin.unsafe(`CREATE DATABASE ${db}${template}`);
      created.push(db);
      const url = new URL(adminUrl);
      url.pathname = `/${db}`;
      return url.toString();
    },
    async close() {
      for (const db of created) await admin.unsafe(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      await admin.end();
      await stop();
    },
  };
}

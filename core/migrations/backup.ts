import { execFile } from "node:child_process";
import { access, constants, mkdir, open, stat } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import { MigrationError } from "./errors";

const run = promisify(execFile);

export interface BackupResult {
  path: string;
  bytes: number;
  pgDumpVersion: string;
}

/** Finds an executable on `path` (the CLIs pass PATH), or undefined. */
export async function findOnPath(name: string, path: string): Promise<string | undefined> {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

/**
 * Dumps the database with pg_dump into `dir` as backup_YYYYMMDD_HHMMSS.sql
 * (the seed's naming). The password travels in PGPASSWORD, never on the
 * command line where `ps` shows it. Fails, rather than warns, when pg_dump
 * fails or is older than the server: the seed makes the backup mandatory.
 */
export async function dumpDatabase(options: {
  pgDump: string;
  databaseUrl: string;
  serverMajor: number;
  dir: string;
  now: Date;
}): Promise<BackupResult> {
  const { stdout } = await run(options.pgDump, ["--version"]);
  const version = stdout.trim();
  const major = Number(/(\d+)(?:\.\d+)?/.exec(version)?.[1] ?? 0);
  if (major < options.serverMajor) {
    throw new MigrationError(
      "backup_failed",
      `backup failed: ${version} cannot dump a Postgres ${options.serverMajor} server (install pg_dump ${options.serverMajor}, or pass --no-backup after taking a backup yourself)`,
    );
  }
  await mkdir(options.dir, { recursive: true, mode: 0o700 });
  const stamp = options.now.toISOString().replace(/[-:]/g, "").replace("T", "_").slice(0, 15);
  const path = join(options.dir, `backup_${stamp}.sql`);
  // The dump holds the legacy crypto accounts' plaintext keys: the file is the
  // owner's alone from its first byte (pg_dump keeps the mode of a file it overwrites).
  const file = await open(path, "w", 0o600);
  await file.chmod(0o600);
  await file.close();
  const url = new URL(options.databaseUrl);
  const password = decodeURIComponent(url.password);
  url.password = "";
  try {
    await run(options.pgDump, ["--no-password", "--file", path, "--dbname", url.toString()], {
      env: { ...process.env, ...(password ? { PGPASSWORD: password } : {}) },
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    const stderr = String((error as { stderr?: string }).stderr ?? "").trim();
    const reason = stderr.split("\n").pop() || (error as Error).message;
    throw new MigrationError(
      "backup_failed",
      `backup failed, nothing was migrated: ${reason.replaceAll(password || "\u0000", "***")}`,
      { cause: error },
    );
  }
  return { path, bytes: (await stat(path)).size, pgDumpVersion: version };
}

import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { MigrationFilesError } from "./errors";
import { isTransactionControl, type Statement, splitStatements } from "./split";

/** How one direction (up or down) of a migration runs. */
export interface MigrationScript {
  file: string;
  sql: string;
  /** Statements to run, without an outer BEGIN/COMMIT pair. */
  statements: Statement[];
  /** False for `-- migrate:no-transaction` files (CREATE INDEX CONCURRENTLY). */
  transactional: boolean;
  /** Postgres interval text, e.g. "5s"; undefined means the runner's default. */
  lockTimeout?: string;
  statementTimeout?: string;
  /** Index names built CONCURRENTLY, checked for an invalid leftover before running. */
  concurrentIndexes: string[];
}

export interface Migration {
  version: number;
  name: string;
  /** sha256 of the up file's bytes, recorded when applied. */
  checksum: string;
  up: MigrationScript;
  down?: MigrationScript;
}

const FILE_NAME = /^(\d{4})_([a-z0-9_]+?)(\.down)?\.sql$/;
const DIRECTIVE = /^--\s*migrate:([a-z-]+)(?:\s+(.+?))?\s*$/;
const INTERVAL = /^\d+\s*(ms|s|min|h)?$/;

/**
 * Reads every migration in `dir`, in version order. Anything that is not
 * exactly a migration (a stray .sql name, a duplicate version, a down file
 * without its up file, an unterminated quote, a CONCURRENTLY statement in a
 * transactional file) is refused with a sentence naming the file.
 */
export async function loadMigrations(dir: string): Promise<Migration[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    const code = (error as { code?: string }).code;
    const why =
      code === "ENOENT"
        ? "does not exist"
        : code === "ENOTDIR"
          ? "is not a folder"
          : code === "EACCES"
            ? "cannot be read (permission denied)"
            : `cannot be read (${code ?? "unknown error"})`;
    throw new MigrationFilesError("migrations_folder_unusable", `migrations folder ${dir} ${why}`, {
      cause: error,
    });
  }
  const ups = new Map<number, { name: string; file: string }>();
  const downs = new Map<number, { name: string; file: string }>();
  for (const file of names.filter((n) => n.endsWith(".sql")).sort()) {
    const match = FILE_NAME.exec(file);
    if (!match) {
      throw new MigrationFilesError(
        "malformed_migration",
        `${file}: migration files are named NNNN_snake_name.sql (or NNNN_snake_name.down.sql)`,
      );
    }
    const version = Number(match[1]);
    const target = match[3] ? downs : ups;
    const existing = target.get(version);
    if (existing) {
      throw new MigrationFilesError(
        "duplicate_version",
        `${file}: version ${match[1]} is also used by ${existing.file}`,
      );
    }
    target.set(version, { name: match[2] as string, file });
  }
  for (const [version, down] of downs) {
    const up = ups.get(version);
    if (!up || up.name !== down.name) {
      throw new MigrationFilesError(
        "orphan_down",
        `${down.file}: there is no matching up file ${String(version).padStart(4, "0")}_${down.name}.sql`,
      );
    }
  }
  if (ups.size === 0) {
    throw new MigrationFilesError(
      "no_migrations",
      `migrations folder ${dir} holds no migration files`,
    );
  }
  const migrations: Migration[] = [];
  for (const [version, up] of [...ups].sort(([a], [b]) => a - b)) {
    const upSql = await readMigrationFile(dir, up.file);
    const down = downs.get(version);
    migrations.push({
      version,
      name: up.name,
      checksum: createHash("sha256").update(upSql).digest("hex"),
      up: parseScript(up.file, upSql),
      ...(down ? { down: parseScript(down.file, await readMigrationFile(dir, down.file)) } : {}),
    });
  }
  return migrations;
}

async function readMigrationFile(dir: string, file: string): Promise<string> {
  try {
    return await readFile(join(dir, file), "utf8");
  } catch (error) {
    throw new MigrationFilesError(
      "migration_unreadable",
      `${file} cannot be read (${(error as { code?: string }).code ?? "unknown error"})`,
      { cause: error },
    );
  }
}

/** Parses one file: its directives, statements and outer transaction pair. */
export function parseScript(file: string, sql: string): MigrationScript {
  const directives = readDirectives(file, sql);
  const transactional = !directives.has("no-transaction");
  let statements = splitStatements(sql, file);
  if (statements.length === 0) {
    throw new MigrationFilesError("malformed_migration", `${file}: the file has no SQL statements`);
  }
  const first = statements[0] as Statement;
  const last = statements[statements.length - 1] as Statement;
  if (/^(BEGIN|START TRANSACTION)\b/i.test(first.code)) {
    if (!/^(COMMIT|END)\b/i.test(last.code) || statements.length < 2) {
      throw new MigrationFilesError(
        "malformed_migration",
        `${file}: it opens a transaction on line ${first.line} but does not end with COMMIT`,
      );
    }
    if (!transactional) {
      throw new MigrationFilesError(
        "malformed_migration",
        `${file}: a -- migrate:no-transaction file cannot wrap itself in BEGIN/COMMIT`,
      );
    }
    statements = statements.slice(1, -1);
  }
  const control = statements.find(isTransactionControl);
  if (control) {
    throw new MigrationFilesError(
      "malformed_migration",
      `${file}: line ${control.line} controls the transaction; only one outer BEGIN … COMMIT pair is allowed`,
    );
  }
  const concurrentIndexes: string[] = [];
  for (const statement of statements) {
    const concurrent =
      /^CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?("?[\w.]+"?)/i.exec(
        statement.code,
      );
    const anyConcurrently =
      /\bCONCURRENTLY\b/i.test(statement.code) && !/^DO\b/i.test(statement.code);
    if (anyConcurrently && transactional) {
      throw new MigrationFilesError(
        "malformed_migration",
        `${file}: line ${statement.line} runs CONCURRENTLY, which cannot run in a transaction: start the file with "-- migrate:no-transaction"`,
      );
    }
    if (concurrent) concurrentIndexes.push((concurrent[1] as string).replaceAll('"', ""));
  }
  return {
    file,
    sql,
    statements,
    transactional,
    lockTimeout: directives.get("lock-timeout"),
    statementTimeout: directives.get("statement-timeout"),
    concurrentIndexes,
  };
}

/** Reads `-- migrate:<name> [value]` lines from the top of the file. */
function readDirectives(file: string, sql: string): Map<string, string | undefined> {
  const directives = new Map<string, string | undefined>();
  for (const raw of sql.split("\n")) {
    const line = raw.trim();
    if (!line.startsWith("--")) break;
    const match = DIRECTIVE.exec(line);
    if (!match) continue;
    const [, name, value] = match as unknown as [string, string, string | undefined];
    if (name === "no-transaction" && value === undefined) directives.set(name, undefined);
    else if (
      (name === "lock-timeout" || name === "statement-timeout") &&
      value &&
      INTERVAL.test(value)
    )
      directives.set(name, value.replace(/\s+/g, ""));
    else
      throw new MigrationFilesError(
        "malformed_migration",
        `${file}: unknown or malformed directive "${line}" (known: -- migrate:no-transaction, -- migrate:lock-timeout <n>[ms|s|min|h], -- migrate:statement-timeout <n>[ms|s|min|h])`,
      );
  }
  return directives;
}

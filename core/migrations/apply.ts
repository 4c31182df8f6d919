/**
 * How one migration script is applied: its timeouts, its transaction (or its
 * statements one by one for CONCURRENTLY), its history row, and retries
 * after a lock timeout.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { ReservedSql } from "../db";
import { explainDatabaseError, MigrationError } from "./errors";
import type { MigrationScript } from "./files";

/** Name of the history table; chosen not to collide with a legacy `schema_migrations`. */
export const HISTORY_TABLE = "securities_support_migrations";

/** What applyScript needs of the runner's options. */
export interface ApplyOptions {
  lockTimeout?: string;
  statementTimeout?: string;
  lockRetries?: number;
}

/** Creates the history table when missing, quietly (no "already exists" notice on every run). */
const HISTORY_DDL = (table: string) => `
  DO $$
  BEGIN
    IF to_regclass('${table}') IS NULL THEN
      CREATE TABLE ${table} (
        version INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        checksum TEXT NOT NULL,
        applied_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
        duration_ms INTEGER NOT NULL
      );
    END IF;
  END
  $$`;

/**
 * A clean-up step that failed: kept in the report's warnings with its reason,
 * never thrown over the error (or the result) that matters.
 */
export function cleanupFailed(warnings: string[], what: string): (error: unknown) => void {
  return (error) => {
    const reason = error instanceof Error ? error.message : String(error);
    warnings.push(`${what} failed: ${reason}`);
  };
}

/**
 * Runs one script with its timeouts. A transactional script runs with its
 * history change in one transaction; a lock timeout rolls it back and tries
 * again after a pause. A non-transactional script first drops any INVALID
 * index that an earlier failed concurrent build of it left, then runs
 * statement by statement; its history change is recorded at the end.
 * Returns how many attempts it took.
 */
export async function applyScript(
  conn: ReservedSql,
  script: MigrationScript,
  options: ApplyOptions,
  warnings: string[],
  record: (tx: ReservedSql) => Promise<void>,
): Promise<number> {
  const rollback = cleanupFailed(warnings, `rolling back ${script.file} after its error`);
  const lockTimeout = script.lockTimeout ?? options.lockTimeout ?? "5s";
  const statementTimeout = script.statementTimeout ?? options.statementTimeout ?? "15min";
  const retries = options.lockRetries ?? 5;
  for (let attempt = 1; ; attempt++) {
    try {
      if (script.transactional) {
        await conn.unsafe("BEGIN");
        try {
          await conn.unsafe(`SET LOCAL lock_timeout = '${lockTimeout}'`);
          await conn.unsafe(`SET LOCAL statement_timeout = '${statementTimeout}'`);
          await conn.unsafe(HISTORY_DDL(HISTORY_TABLE));
          for (const statement of script.statements) {
            await runStatement(conn, statement.text, script.file, statement.line);
          }
          await record(conn);
          await conn.unsafe("COMMIT");
        } catch (error) {
          await conn.unsafe("ROLLBACK").catch(rollback);
          throw error;
        }
      } else {
        await conn.unsafe(`SET lock_timeout = '${lockTimeout}'`);
        await conn.unsafe(`SET statement_timeout = '${statementTimeout}'`);
        try {
          await dropInvalidIndexes(conn, script.concurrentIndexes);
          for (const statement of script.statements) {
            await runStatement(conn, statement.text, script.file, statement.line);
          }
          await conn.unsafe("BEGIN");
          await conn.unsafe(HISTORY_DDL(HISTORY_TABLE));
          await record(conn);
          await conn.unsafe("COMMIT");
        } catch (error) {
          await conn.unsafe("ROLLBACK").catch(rollback);
          throw error;
        } finally {
          await conn
            .unsafe("RESET lock_timeout")
            .catch(cleanupFailed(warnings, `resetting lock_timeout after ${script.file}`));
          await conn
            .unsafe("RESET statement_timeout")
            .catch(cleanupFailed(warnings, `resetting statement_timeout after ${script.file}`));
        }
      }
      return attempt;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === "55P03" && attempt <= retries) {
        await sleep(Math.min(500 * 2 ** (attempt - 1), 10_000));
        continue;
      }
      if (error instanceof MigrationError) throw error;
      throw explainDatabaseError(error, script.file);
    }
  }
}

async function runStatement(
  conn: ReservedSql,
  text: string,
  file: string,
  line: number,
): Promise<void> {
  try {
    await conn.unsafe(text);
  } catch (error) {
    const e = error as { code?: string; message?: string };
    if (e.code === "55P03") throw error;
    throw explainDatabaseError(error, `${file} (statement on line ${line})`);
  }
}

/** Drops indexes that a failed CREATE INDEX CONCURRENTLY left INVALID, so the build can run again. */
async function dropInvalidIndexes(conn: ReservedSql, names: string[]): Promise<void> {
  if (names.length === 0) return;
  const invalid = await conn<{ name: string }[]>`
    SELECT c.relname AS name
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    WHERE c.relname IN ${conn(names)}
      AND c.relnamespace = current_schema()::regnamespace
      AND NOT i.indisvalid
  `;
  for (const { name } of invalid) {
    await conn.unsafe(`DROP INDEX CONCURRENTLY IF EXISTS "${name}"`);
  }
}

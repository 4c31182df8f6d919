import { MigrationFilesError } from "./errors";

/** One SQL statement of a migration file. */
export interface Statement {
  /** The statement as written, comments included, without the final semicolon. */
  text: string;
  /** The same with comments removed and whitespace collapsed: for classifying it. */
  code: string;
  /** 1-based line where the statement starts, for error messages. */
  line: number;
}

/**
 * Splits a file into statements at top-level semicolons, honouring quotes,
 * quoted identifiers, dollar quotes and comments. Written by hand because
 * non-transactional migrations (CREATE INDEX CONCURRENTLY) must be sent one
 * statement at a time, and no maintained splitter for Postgres' dialect
 * exists as a small package.
 */
export function splitStatements(sql: string, file: string): Statement[] {
  const statements: Statement[] = [];
  let text = "";
  let code = "";
  let startLine = 1;
  let line = 1;
  let i = 0;
  const flush = () => {
    const trimmedCode = code.replace(/\s+/g, " ").trim();
    if (trimmedCode) statements.push({ text: text.trim(), code: trimmedCode, line: startLine });
    text = "";
    code = "";
  };
  const fail = (what: string, at: number) => {
    throw new MigrationFilesError(
      "malformed_migration",
      `${file}: ${what} starting on line ${at} is never closed`,
    );
  };
  while (i < sql.length) {
    const ch = sql[i] as string;
    const next = sql[i + 1];
    if (!code.trim() && !/\s/.test(ch) && !(ch === "-" && next === "-") && ch !== "/")
      startLine = line;
    if (ch === "-" && next === "-") {
      const end = sql.indexOf("\n", i);
      const stop = end === -1 ? sql.length : end;
      text += sql.slice(i, stop);
      code += " ";
      i = stop;
      continue;
    }
    if (ch === "/" && next === "*") {
      const open = line;
      let depth = 0;
      let j = i;
      while (j < sql.length) {
        if (sql[j] === "/" && sql[j + 1] === "*") {
          depth++;
          j += 2;
        } else if (sql[j] === "*" && sql[j + 1] === "/") {
          depth--;
          j += 2;
          if (depth === 0) break;
        } else {
          if (sql[j] === "\n") line++;
          j++;
        }
      }
      if (depth !== 0) fail("a /* comment", open);
      text += sql.slice(i, j);
      code += " ";
      i = j;
      continue;
    }
    if (ch === "'" || ch === '"') {
      const open = line;
      const backslashEscapes = ch === "'" && /[eE]$/.test(code) && !/\w[eE]$/.test(code);
      let j = i + 1;
      for (;;) {
        if (j >= sql.length) fail(ch === "'" ? "a quoted string" : "a quoted identifier", open);
        const c = sql[j];
        if (c === "\n") line++;
        if (backslashEscapes && c === "\\") {
          j += 2;
          continue;
        }
        if (c === ch) {
          if (sql[j + 1] === ch) {
            j += 2;
            continue;
          }
          break;
        }
        j++;
      }
      const chunk = sql.slice(i, j + 1);
      text += chunk;
      code += chunk;
      i = j + 1;
      continue;
    }
    if (ch === "$") {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (tag && !/[A-Za-z0-9_]$/.test(code)) {
        const open = line;
        const close = sql.indexOf(tag[0], i + tag[0].length);
        if (close === -1) fail(`a ${tag[0]} quoted body`, open);
        const chunk = sql.slice(i, close + tag[0].length);
        line += chunk.split("\n").length - 1;
        text += chunk;
        code += chunk;
        i = close + tag[0].length;
        continue;
      }
    }
    if (ch === ";") {
      flush();
      i++;
      continue;
    }
    if (ch === "\n") line++;
    text += ch;
    code += ch;
    i++;
  }
  flush();
  return statements;
}

const TRANSACTION_CONTROL =
  /^(BEGIN|START\s+TRANSACTION|COMMIT|END|ROLLBACK|ABORT|SAVEPOINT|RELEASE|PREPARE\s+TRANSACTION)\b/i;

/** True for BEGIN, COMMIT and the other statements that steer a transaction. */
export function isTransactionControl(statement: Statement): boolean {
  return TRANSACTION_CONTROL.test(statement.code);
}

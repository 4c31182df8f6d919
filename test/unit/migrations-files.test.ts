import { describe, expect, it } from "vitest";
import { MigrationFilesError, parseScript, splitStatements } from "../../core/migrations";

describe("splitStatements", () => {
  it("splits at top-level semicolons only", () => {
    const statements = splitStatements(
      `SELECT ';' AS a; -- comment; here
       SELECT "we;ird" FROM t; /* block; /* nested; */ still */ SELECT E'it\\'s;';
       DO $body$ BEGIN RAISE NOTICE 'x;y'; END $body$;
       SELECT $$a;b$$`,
      "f.sql",
    );
    expect(statements.map((s) => s.code)).toEqual([
      "SELECT ';' AS a",
      'SELECT "we;ird" FROM t',
      "SELECT E'it\\'s;'",
      "DO $body$ BEGIN RAISE NOTICE 'x;y'; END $body$",
      "SELECT $$a;b$$",
    ]);
  });

  it("reports the line where each statement starts", () => {
    const statements = splitStatements("-- header\n\nSELECT 1;\n\nSELECT\n 2;", "f.sql");
    expect(statements.map((s) => s.line)).toEqual([3, 5]);
  });

  it("ignores statements that are only comments", () => {
    expect(splitStatements("-- just a note\n/* and another */;\n", "f.sql")).toEqual([]);
  });

  it.each([
    ["SELECT 'open", "a quoted string starting on line 1 is never closed"],
    ['SELECT "open', "a quoted identifier starting on line 1 is never closed"],
    ["SELECT 1;\nDO $$ BEGIN", "a $$ quoted body starting on line 2 is never closed"],
    ["/* open", "a /* comment starting on line 1 is never closed"],
  ])("names an unterminated construct in %j", (sql, message) => {
    expect(() => splitStatements(sql, "f.sql")).toThrow(`f.sql: ${message}`);
  });
});

describe("parseScript", () => {
  it("drops an outer BEGIN/COMMIT pair so the runner can use its own transaction", () => {
    const script = parseScript("0005_x.sql", "BEGIN;\nCREATE TABLE a (id int);\nCOMMIT;\n");
    expect(script.transactional).toBe(true);
    expect(script.statements.map((s) => s.code)).toEqual(["CREATE TABLE a (id int)"]);
  });

  it("refuses BEGIN without COMMIT", () => {
    expect(() => parseScript("0005_x.sql", "BEGIN;\nCREATE TABLE a (id int);\n")).toThrow(
      "0005_x.sql: it opens a transaction on line 1 but does not end with COMMIT",
    );
  });

  it("refuses transaction control inside the body", () => {
    expect(() => parseScript("0005_x.sql", "CREATE TABLE a (id int);\nCOMMIT;\nSELECT 1;")).toThrow(
      /line 2 controls the transaction/,
    );
  });

  it("refuses CONCURRENTLY in a transactional file", () => {
    expect(() => parseScript("0005_x.sql", "CREATE INDEX CONCURRENTLY i ON a (id);")).toThrow(
      /start the file with "-- migrate:no-transaction"/,
    );
  });

  it("reads directives and the concurrent index names", () => {
    const script = parseScript(
      "0005_x.sql",
      "-- migrate:no-transaction\n-- migrate:statement-timeout 30min\n-- migrate:lock-timeout 2s\nCREATE INDEX CONCURRENTLY IF NOT EXISTS idx_a ON a (id);\n",
    );
    expect(script).toMatchObject({
      transactional: false,
      statementTimeout: "30min",
      lockTimeout: "2s",
      concurrentIndexes: ["idx_a"],
    });
  });

  it("refuses an unknown directive, naming it", () => {
    const error = (() => {
      try {
        parseScript("0005_x.sql", "-- migrate:no-transactoin\nSELECT 1;");
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(MigrationFilesError);
    expect((error as Error).message).toMatch(
      /unknown or malformed directive "-- migrate:no-transactoin"/,
    );
  });

  it("refuses a file with no statements", () => {
    expect(() => parseScript("0005_x.sql", "-- nothing here\n")).toThrow(
      "0005_x.sql: the file has no SQL statements",
    );
  });
});

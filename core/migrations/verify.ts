import type { ReservedSql, Sql } from "../db";

/** One column as the seed specifies it (information_schema's words). */
export interface ExpectedColumn {
  table: string;
  column: string;
  dataType: string;
  maxLength: number | null;
  nullable: boolean;
  /** Exact column_default, or a pattern for serial defaults; null for none. */
  default: string | RegExp | null;
}

/** The seed's schema, the contract this service must leave in place. */
export const SEED_COLUMNS: ExpectedColumn[] = [
  col("accounts", "account_type", "character varying", 20, false, "'CRYPTO'::character varying"),
  col("accounts", "securities_config", "text", null, true, null),
  col("accounts", "access_token", "text", null, true, null),
  col("accounts", "token_expires_at", "timestamp without time zone", null, true, null),
  col(
    "securities_tokens",
    "id",
    "integer",
    null,
    false,
    /^nextval\('securities_tokens_id_seq'::regclass\)$/,
  ),
  col("securities_tokens", "account_id", "integer", null, false, null),
  col("securities_tokens", "access_token", "text", null, false, null),
  col(
    "securities_tokens",
    "token_type",
    "character varying",
    20,
    false,
    "'Bearer'::character varying",
  ),
  col("securities_tokens", "expires_in", "integer", null, false, null),
  col("securities_tokens", "expires_at", "timestamp without time zone", null, false, null),
  col(
    "securities_tokens",
    "created_at",
    "timestamp without time zone",
    null,
    false,
    "CURRENT_TIMESTAMP",
  ),
  col(
    "securities_tokens",
    "last_refreshed_at",
    "timestamp without time zone",
    null,
    false,
    "CURRENT_TIMESTAMP",
  ),
];

/** The seed's indexes by name, with the table and column each covers. */
export const SEED_INDEXES = [
  { name: "idx_account_type", table: "accounts", column: "account_type" },
  { name: "idx_securities_token_account_id", table: "securities_tokens", column: "account_id" },
  { name: "idx_securities_token_expires_at", table: "securities_tokens", column: "expires_at" },
  {
    name: "idx_securities_token_last_refreshed",
    table: "securities_tokens",
    column: "last_refreshed_at",
  },
] as const;

/**
 * The seed's example queries and the index each must be able to use. The
 * join may be served by the UNIQUE(account_id) constraint's own index, which
 * covers the same column, so either is accepted there.
 */
export const SEED_QUERIES = [
  {
    name: "securities accounts by type",
    sql: "SELECT * FROM accounts WHERE account_type = 'SECURITIES_STOCK'",
    indexes: ["idx_account_type"],
  },
  {
    name: "tokens expiring within 6 hours",
    sql: "SELECT * FROM securities_tokens WHERE expires_at <= NOW() + INTERVAL '6 hours'",
    indexes: ["idx_securities_token_expires_at"],
  },
  {
    name: "tokens not refreshed for 6 hours",
    sql: "SELECT * FROM securities_tokens WHERE last_refreshed_at < NOW() - INTERVAL '6 hours'",
    indexes: ["idx_securities_token_last_refreshed"],
  },
  {
    name: "securities accounts joined to their tokens",
    sql: "SELECT a.name, st.expires_at FROM accounts a JOIN securities_tokens st ON a.id = st.account_id WHERE a.account_type = 'SECURITIES_STOCK'",
    indexes: [
      "idx_securities_token_account_id",
      "securities_tokens_account_id_key",
      "idx_account_type",
    ],
  },
] as const;

export interface VerificationCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface Verification {
  ok: boolean;
  checks: VerificationCheck[];
}

function col(
  table: string,
  column: string,
  dataType: string,
  maxLength: number | null,
  nullable: boolean,
  def: string | RegExp | null,
): ExpectedColumn {
  return { table, column, dataType, maxLength, nullable, default: def };
}

/**
 * The seed's verification section, as code: every column with its type,
 * nullability and default; the foreign key and unique constraint; every
 * index by name and validity; and, for each example query, that the planner
 * can use the named index (sequential scans disabled, so that an empty table
 * still shows whether the index is usable).
 */
export async function verifySeedSchema(sql: Sql | ReservedSql): Promise<Verification> {
  const checks: VerificationCheck[] = [];
  const columns = await sql<
    {
      table_name: string;
      column_name: string;
      data_type: string;
      character_maximum_length: number | null;
      is_nullable: string;
      column_default: string | null;
    }[]
  >`
    SELECT table_name, column_name, data_type, character_maximum_length, is_nullable, column_default
    FROM information_schema.columns
    WHERE table_schema = current_schema() AND table_name IN ('accounts', 'securities_tokens')
  `;
  for (const expected of SEED_COLUMNS) {
    const name = `column ${expected.table}.${expected.column}`;
    const found = columns.find(
      (c) => c.table_name === expected.table && c.column_name === expected.column,
    );
    if (!found) {
      checks.push({ name, ok: false, detail: "missing" });
      continue;
    }
    const defaultOk =
      expected.default instanceof RegExp
        ? expected.default.test(found.column_default ?? "")
        : found.column_default === expected.default;
    const ok =
      found.data_type === expected.dataType &&
      found.character_maximum_length === expected.maxLength &&
      (found.is_nullable === "YES") === expected.nullable &&
      defaultOk;
    const type = found.character_maximum_length
      ? `${found.data_type}(${found.character_maximum_length})`
      : found.data_type;
    checks.push({
      name,
      ok,
      detail: `${type} ${found.is_nullable === "YES" ? "NULL" : "NOT NULL"} default ${found.column_default ?? "none"}`,
    });
  }

  const [fk] = await sql<{ definition: string }[]>`
    SELECT pg_get_constraintdef(c.oid) AS definition
    FROM pg_constraint c
    WHERE c.conrelid = to_regclass('securities_tokens') AND c.contype = 'f'
  `;
  checks.push({
    name: "foreign key securities_tokens.account_id",
    ok: /FOREIGN KEY \(account_id\) REFERENCES accounts\(id\) ON DELETE CASCADE/.test(
      fk?.definition ?? "",
    ),
    detail: fk?.definition ?? "missing",
  });
  const [unique] = await sql<{ definition: string }[]>`
    SELECT pg_get_constraintdef(c.oid) AS definition
    FROM pg_constraint c
    WHERE c.conrelid = to_regclass('securities_tokens') AND c.contype = 'u'
  `;
  checks.push({
    name: "unique securities_tokens.account_id",
    ok: unique?.definition === "UNIQUE (account_id)",
    detail: unique?.definition ?? "missing",
  });

  const indexes = await sql<{ name: string; table: string; valid: boolean; definition: string }[]>`
    SELECT c.relname AS name, t.relname AS table, i.indisvalid AS valid, pg_get_indexdef(c.oid) AS definition
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_class t ON t.oid = i.indrelid
    WHERE t.relnamespace = current_schema()::regnamespace
      AND t.relname IN ('accounts', 'securities_tokens')
  `;
  for (const expected of SEED_INDEXES) {
    const found = indexes.find((i) => i.name === expected.name);
    checks.push({
      name: `index ${expected.name}`,
      ok:
        !!found &&
        found.valid &&
        found.table === expected.table &&
        found.definition.endsWith(`(${expected.column})`),
      detail: found ? `${found.definition}${found.valid ? "" : " (INVALID)"}` : "missing",
    });
  }

  for (const query of SEED_QUERIES) {
    const used = await indexesThePlannerUses(sql, query.sql);
    const match = used.find((name) => (query.indexes as readonly string[]).includes(name));
    checks.push({
      name: `plan: ${query.name}`,
      ok: !!match,
      detail: used.length ? `uses ${used.join(", ")}` : "no index used",
    });
  }
  return { ok: checks.every((c) => c.ok), checks };
}

/**
 * Names of the indexes in the plan of `query` when sequential scans are
 * disabled. One simple-protocol query string runs as one implicit
 * transaction, so SET LOCAL reaches the EXPLAIN and nothing outlives it,
 * on a pooled or a reserved connection alike.
 */
export async function indexesThePlannerUses(
  sql: Sql | ReservedSql,
  query: string,
): Promise<string[]> {
  const results = (await sql
    .unsafe(`SET LOCAL enable_seqscan = off; EXPLAIN (FORMAT JSON) ${query}`)
    .simple()) as unknown as { "QUERY PLAN": unknown }[][];
  const names: string[] = [];
  collectIndexNames(results[1]?.[0]?.["QUERY PLAN"], names);
  return names;
}

function collectIndexNames(node: unknown, into: string[]): void {
  if (Array.isArray(node)) {
    for (const child of node) collectIndexNames(child, into);
  } else if (node && typeof node === "object") {
    for (const [key, value] of Object.entries(node)) {
      if (key === "Index Name" && typeof value === "string") into.push(value);
      else collectIndexNames(value, into);
    }
  }
}

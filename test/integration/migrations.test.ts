import { execFile } from "node:child_process";
import { cp, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { createSql } from "../../core/db";
import { HISTORY_TABLE, loadMigrations, migrate, verifySeedSchema } from "../../core/migrations";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { createLegacyAccounts, legacyChecksum } from "../support/legacy";
import { toolOnPath } from "../support/tools";

const run = promisify(execFile);
const MIGRATIONS = join(import.meta.dirname, "..", "..", "migrations");
const opened: TestDatabase[] = [];
const versions = (await loadMigrations(MIGRATIONS)).map((m) => m.version);
const latest = versions[versions.length - 1];

async function legacyDatabase(rows = 50): Promise<TestDatabase> {
  const db = await createTestDatabase({
    migrate: false,
    before: (sql) => createLegacyAccounts(sql, rows),
  });
  opened.push(db);
  return db;
}

async function freshDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase({ migrate: false });
  opened.push(db);
  return db;
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((db) => db.drop()));
});

async function migrationsCopy(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "migrations-"));
  await cp(MIGRATIONS, dir, { recursive: true });
  return dir;
}

describe("migrate up on a legacy database", () => {
  it("adds the seed's columns, table and indexes exactly and marks every old row CRYPTO", async () => {
    const db = await legacyDatabase();
    const report = await migrate({ databaseUrl: db.url, action: "up", backup: false });
    expect(report.error).toBeUndefined();
    expect(report.ok).toBe(true);

    const columns = await db.sql<
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
      WHERE table_schema = 'public' AND (table_name = 'securities_tokens'
        OR (table_name = 'accounts' AND column_name IN ('account_type', 'securities_config', 'access_token', 'token_expires_at')))
    `;
    // The seed guide's tables, written out (information_schema's words for its types).
    const ts = "timestamp without time zone";
    const varchar = "character varying";
    expect(
      columns
        .map((c) => [
          `${c.table_name}.${c.column_name}`,
          c.data_type,
          c.character_maximum_length,
          c.is_nullable,
          c.column_default,
        ])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    ).toEqual([
      ["accounts.access_token", "text", null, "YES", null],
      ["accounts.account_type", varchar, 20, "NO", "'CRYPTO'::character varying"],
      ["accounts.securities_config", "text", null, "YES", null],
      ["accounts.token_expires_at", ts, null, "YES", null],
      ["securities_tokens.access_token", "text", null, "NO", null],
      ["securities_tokens.account_id", "integer", null, "NO", null],
      ["securities_tokens.created_at", ts, null, "NO", "CURRENT_TIMESTAMP"],
      ["securities_tokens.expires_at", ts, null, "NO", null],
      ["securities_tokens.expires_in", "integer", null, "NO", null],
      [
        "securities_tokens.id",
        "integer",
        null,
        "NO",
        "nextval('securities_tokens_id_seq'::regclass)",
      ],
      ["securities_tokens.last_refreshed_at", ts, null, "NO", "CURRENT_TIMESTAMP"],
      ["securities_tokens.token_type", varchar, 20, "NO", "'Bearer'::character varying"],
    ]);

    const indexes = await db.sql<{ indexname: string; tablename: string; indexdef: string }[]>`
      SELECT indexname, tablename, indexdef FROM pg_indexes
      WHERE schemaname = 'public' AND tablename IN ('accounts', 'securities_tokens')
    `;
    const byName = new Map(indexes.map((i) => [i.indexname, i]));
    for (const [name, table, column] of [
      ["idx_account_type", "accounts", "account_type"],
      ["idx_securities_token_account_id", "securities_tokens", "account_id"],
      ["idx_securities_token_expires_at", "securities_tokens", "expires_at"],
      ["idx_securities_token_last_refreshed", "securities_tokens", "last_refreshed_at"],
    ]) {
      expect(byName.get(name as string)?.tablename, name).toBe(table);
      expect(byName.get(name as string)?.indexdef, name).toContain(`USING btree (${column})`);
    }
    const constraints = await db.sql<{ def: string }[]>`
      SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint
      WHERE conrelid = 'securities_tokens'::regclass AND contype IN ('f', 'u') ORDER BY contype
    `;
    expect(constraints.map((c) => c.def)).toEqual([
      "FOREIGN KEY (account_id) REFERENCES accounts(id) ON DELETE CASCADE",
      "UNIQUE (account_id)",
    ]);

    const types = await db.sql<{ account_type: string; n: number }[]>`
      SELECT account_type, count(*)::int AS n FROM accounts GROUP BY account_type
    `;
    expect(types).toEqual([{ account_type: "CRYPTO", n: 50 }]);
  });

  it("prints the seed's progress lines in order, ending with the completion line", async () => {
    const db = await legacyDatabase(3);
    const report = await migrate({ databaseUrl: db.url, action: "up", backup: false });
    expect(report.notices.filter((n) => /^(✅|📊)/u.test(n))).toEqual([
      "✅ accounts.account_type 컬럼 추가 완료",
      "✅ accounts.securities_config 컬럼 추가 완료",
      "✅ accounts.access_token 컬럼 추가 완료",
      "✅ accounts.token_expires_at 컬럼 추가 완료",
      "✅ securities_tokens 테이블 생성 완료",
      "📊 accounts 테이블 추가 컬럼: 4개",
      "📊 securities_tokens 테이블: 존재함",
      "✅ 증권 거래소 지원 마이그레이션 완료",
    ]);
    expect(report.notices).toContain(
      "accounts table already exists: baseline skipped, legacy table left as it is",
    );
  });

  it("reports that the planner uses each named index for the seed's example queries", async () => {
    const db = await legacyDatabase(3);
    const report = await migrate({ databaseUrl: db.url, action: "up", backup: false });
    const plans = report.verification?.checks.filter((c) => c.name.startsWith("plan:")) ?? [];
    expect(plans).toHaveLength(4);
    expect(plans.every((p) => p.ok)).toBe(true);
    expect(plans[2]?.detail).toContain("idx_securities_token_last_refreshed");
  });

  it("is a no-op when run a second time", async () => {
    const db = await legacyDatabase();
    await migrate({ databaseUrl: db.url, action: "up", backup: false });
    const before = await legacyChecksum(db.sql);
    const second = await migrate({ databaseUrl: db.url, action: "up", backup: false });
    expect(second.ok).toBe(true);
    expect(second.applied).toEqual([]);
    expect(second.notices).toContain("nothing to do: every migration is applied");
    expect(await legacyChecksum(db.sql)).toBe(before);
  });
});

describe("migrate down", () => {
  it("leaves the legacy rows byte-for-byte as they were", async () => {
    const db = await legacyDatabase();
    const before = await legacyChecksum(db.sql);
    await migrate({ databaseUrl: db.url, action: "up", backup: false });
    await db.sql`UPDATE accounts SET account_type = 'SECURITIES_STOCK' WHERE id = 1`;
    const down = await migrate({ databaseUrl: db.url, action: "down", to: 1, backup: false });
    expect(down.error).toBeUndefined();
    expect(down.applied.map((a) => a.version)).toEqual(versions.filter((v) => v > 1).reverse());
    expect(await legacyChecksum(db.sql)).toBe(before);
    const [left] = await db.sql`
      SELECT to_regclass('securities_tokens') AS tokens,
             (SELECT count(*)::int FROM information_schema.columns WHERE table_name = 'accounts'
                AND column_name IN ('account_type', 'securities_config', 'access_token', 'token_expires_at')) AS columns
    `;
    expect(left).toEqual({ tokens: null, columns: 0 });
  });

  it("reverts only the latest migration when no target is given", async () => {
    const db = await legacyDatabase(3);
    await migrate({ databaseUrl: db.url, action: "up", backup: false });
    const down = await migrate({ databaseUrl: db.url, action: "down", backup: false });
    expect(down.applied.map((a) => a.version)).toEqual([latest]);
    const status = await migrate({ databaseUrl: db.url, action: "status" });
    expect(status.status?.find((s) => s.version === latest)?.state).toBe("pending");
    expect(status.status?.filter((s) => s.state === "applied")).toHaveLength(versions.length - 1);
  });

  it("refuses to revert the baseline, naming the file", async () => {
    const db = await legacyDatabase(3);
    await migrate({ databaseUrl: db.url, action: "up", backup: false });
    const down = await migrate({ databaseUrl: db.url, action: "down", to: 0, backup: false });
    expect(down.ok).toBe(false);
    expect(down.error?.message).toMatch(/0001_baseline_accounts\.sql has no \.down\.sql/);
    expect(down.applied).toEqual([]);
  });
});

describe("failures change nothing", () => {
  it("rolls back a migration that fails half way", async () => {
    const db = await legacyDatabase();
    // A legacy view named securities_tokens makes the table step fail after the ALTERs ran.
    await db.sql`CREATE VIEW securities_tokens AS SELECT 1 AS x`;
    const before = await legacyChecksum(db.sql);
    const report = await migrate({ databaseUrl: db.url, action: "up", backup: false });
    expect(report.ok).toBe(false);
    expect(report.error?.message).toMatch(/0002_add_securities_support\.sql/);
    expect(report.error?.message).toMatch(/securities_tokens exists but is not a table/);
    const [state] = await db.sql`
      SELECT (SELECT count(*)::int FROM information_schema.columns WHERE table_name = 'accounts' AND column_name = 'account_type') AS account_type
    `;
    expect(state).toEqual({ account_type: 0 });
    expect(await legacyChecksum(db.sql)).toBe(before);
    const [history] =
      await db.sql`SELECT array_agg(version ORDER BY version) AS versions FROM ${db.sql(HISTORY_TABLE)}`;
    expect(history?.versions).toEqual([1]);
  });

  it("refuses a migration file edited after it was applied", async () => {
    const db = await legacyDatabase(3);
    const dir = await migrationsCopy();
    await migrate({ databaseUrl: db.url, action: "up", backup: false, migrationsDir: dir });
    const file = join(dir, "0002_add_securities_support.sql");
    await writeFile(file, `${await readFile(file, "utf8")}\n-- an innocent-looking edit\n`);
    const report = await migrate({
      databaseUrl: db.url,
      action: "up",
      backup: false,
      migrationsDir: dir,
    });
    expect(report.ok).toBe(false);
    expect(report.error?.code).toBe("checksum_mismatch");
    expect(report.error?.message).toMatch(
      /0002_add_securities_support\.sql was edited after it was applied/,
    );
  });

  it("names a missing migrations folder without touching the database", async () => {
    const db = await legacyDatabase(3);
    const report = await migrate({
      databaseUrl: db.url,
      action: "up",
      migrationsDir: "/nonexistent/migrations",
    });
    expect(report.ok).toBe(false);
    expect(report.error?.message).toBe("migrations folder /nonexistent/migrations does not exist");
    const [state] = await db.sql`SELECT to_regclass(${HISTORY_TABLE}) AS history`;
    expect(state?.history).toBeNull();
  });

  it("names a malformed migration file", async () => {
    const db = await legacyDatabase(3);
    const dir = await migrationsCopy();
    await writeFile(
      join(dir, "0099_broken.sql"),
      "CREATE TABLE x (note TEXT DEFAULT 'unterminated);\n",
    );
    const report = await migrate({ databaseUrl: db.url, action: "up", migrationsDir: dir });
    expect(report.ok).toBe(false);
    expect(report.error?.message).toBe(
      "0099_broken.sql: a quoted string starting on line 1 is never closed",
    );
    const [state] = await db.sql`SELECT to_regclass('securities_tokens') AS tokens`;
    expect(state?.tokens).toBeNull();
  });

  it("explains a DATABASE_URL nobody listens on, with the password hidden", async () => {
    const report = await migrate({
      databaseUrl: "postgres://someone:hunter2@127.0.0.1:1/nowhere",
      action: "up",
    });
    expect(report.ok).toBe(false);
    expect(report.error?.code).toBe("connection_refused");
    expect(report.error?.message).toBe(
      "cannot connect to postgres://someone:***@127.0.0.1:1/nowhere: connection refused (is Postgres running there? check DATABASE_URL)",
    );
    expect(JSON.stringify(report)).not.toContain("hunter2");
  });

  it("explains a user who may not alter accounts, and changes nothing", async () => {
    const db = await legacyDatabase(3);
    await migrate({ databaseUrl: db.url, action: "up", to: 1, backup: false });
    const role = `limited_${Math.random().toString(36).slice(2, 8)}`;
    await db.sql.unsafe(`CREATE ROLE ${role} LOGIN PASSWORD 'limited-pw'`);
    await db.sql.unsafe(`GRANT ALL ON SCHEMA public TO ${role}`);
    await db.sql.unsafe(`GRANT ALL ON ALL TABLES IN SCHEMA public TO ${role}`);
    try {
      const url = new URL(db.url);
      url.username = role;
      url.password = "limited-pw";
      const before = await legacyChecksum(db.sql);
      const report = await migrate({ databaseUrl: url.toString(), action: "up", backup: false });
      expect(report.ok).toBe(false);
      expect(report.error?.code).toBe("permission_denied");
      expect(report.error?.message).toMatch(
        /must be owner of table accounts.*run it as the table owner or a superuser/,
      );
      expect(await legacyChecksum(db.sql)).toBe(before);
      const [state] = await db.sql`SELECT to_regclass('securities_tokens') AS tokens`;
      expect(state?.tokens).toBeNull();
    } finally {
      await db.sql.unsafe(`REASSIGN OWNED BY ${role} TO CURRENT_USER`);
      await db.sql.unsafe(`DROP OWNED BY ${role}`);
      await db.sql.unsafe(`DROP ROLE ${role}`);
    }
  });
});

describe("migration order", () => {
  // A late file numbered below the highest applied version (the way a 0010
  // would arrive after 0014): on this database it would run after 0014, on a
  // fresh one before it.
  async function withLateMigration(db: TestDatabase): Promise<string> {
    const dir = await migrationsCopy();
    await migrate({ databaseUrl: db.url, action: "up", backup: false, migrationsDir: dir });
    await writeFile(join(dir, "0010_late_arrival.sql"), "CREATE TABLE late_arrival (id INT);\n");
    return dir;
  }
  const highest = (dir: string) =>
    loadMigrations(dir).then((all) => {
      const top = all[all.length - 1] as { version: number; name: string };
      return `${String(top.version).padStart(4, "0")}_${top.name}`;
    });

  it("refuses a pending version lower than the highest applied, naming both, and applies nothing", async () => {
    const db = await legacyDatabase(3);
    const dir = await withLateMigration(db);
    const report = await migrate({
      databaseUrl: db.url,
      action: "up",
      backup: false,
      migrationsDir: dir,
    });
    expect(report.ok).toBe(false);
    expect(report.error?.code).toBe("out_of_order");
    expect(report.error?.message).toContain(
      `migration 0010_late_arrival is pending but ${await highest(dir)}, a higher version, is already applied`,
    );
    expect(report.error?.message).toContain("--allow-out-of-order");
    expect(report.applied).toEqual([]);
    const [state] = await db.sql`SELECT to_regclass('late_arrival') AS late`;
    expect(state?.late).toBeNull();
  });

  it("refuses it in the plan too", async () => {
    const db = await legacyDatabase(3);
    const dir = await withLateMigration(db);
    const report = await migrate({ databaseUrl: db.url, action: "plan", migrationsDir: dir });
    expect(report.ok).toBe(false);
    expect(report.error?.code).toBe("out_of_order");
  });

  it("applies it when the operator allows out-of-order versions", async () => {
    const db = await legacyDatabase(3);
    const dir = await withLateMigration(db);
    const report = await migrate({
      databaseUrl: db.url,
      action: "up",
      backup: false,
      migrationsDir: dir,
      allowOutOfOrder: true,
    });
    expect(report.error).toBeUndefined();
    expect(report.applied.map((step) => step.version)).toEqual([10]);
    const [state] = await db.sql`SELECT to_regclass('late_arrival') AS late`;
    expect(state?.late).toBe("late_arrival");
  });
});

describe("concurrent runners", () => {
  it("lets one of five runners apply while the others wait and find nothing to do", async () => {
    const db = await legacyDatabase(200);
    const reports = await Promise.all(
      Array.from({ length: 5 }, () =>
        migrate({ databaseUrl: db.url, action: "up", backup: false, lockPollMs: 20 }),
      ),
    );
    expect(reports.every((r) => r.ok)).toBe(true);
    const appliers = reports.filter((r) => r.applied.length > 0);
    expect(appliers).toHaveLength(1);
    expect(appliers[0]?.applied.map((a) => a.version)).toEqual(versions);
    for (const waiter of reports.filter((r) => r.applied.length === 0)) {
      expect(waiter.notices).toContain("nothing to do: every migration is applied");
    }
    const [history] = await db.sql`SELECT count(*)::int AS n FROM ${db.sql(HISTORY_TABLE)}`;
    expect(history?.n).toBe(versions.length);
  });
});

describe("lock timeouts", () => {
  it("retries a migration whose table lock is held a moment, and applies it", async () => {
    const db = await legacyDatabase(10);
    await migrate({ databaseUrl: db.url, action: "up", to: 1, backup: false });
    const holder = await db.sql.reserve();
    await holder`BEGIN`;
    await holder`LOCK TABLE accounts IN ACCESS SHARE MODE`;
    const released = new Promise<void>((resolve) =>
      setTimeout(async () => {
        await holder`COMMIT`;
        holder.release();
        resolve();
      }, 1_200),
    );
    const report = await migrate({
      databaseUrl: db.url,
      action: "up",
      to: 2,
      backup: false,
      lockTimeout: "200ms",
    });
    await released;
    expect(report.error).toBeUndefined();
    expect(report.applied.find((a) => a.version === 2)?.attempts).toBeGreaterThan(1);
  });

  it("gives up after its retries with a sentence naming the cause, and changes nothing", async () => {
    const db = await legacyDatabase(10);
    await migrate({ databaseUrl: db.url, action: "up", to: 1, backup: false });
    const holder = await db.sql.reserve();
    await holder`BEGIN`;
    await holder`LOCK TABLE accounts IN ACCESS SHARE MODE`;
    try {
      const report = await migrate({
        databaseUrl: db.url,
        action: "up",
        to: 2,
        backup: false,
        lockTimeout: "100ms",
        lockRetries: 1,
      });
      expect(report.ok).toBe(false);
      expect(report.error?.code).toBe("lock_timeout");
      expect(report.error?.message).toMatch(
        /could not get a table lock in time, even after retries/,
      );
    } finally {
      await holder`ROLLBACK`;
      holder.release();
    }
    const [state] = await db.sql`
      SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'accounts' AND column_name = 'account_type'
    `;
    expect(state?.n).toBe(0);
  });
});

describe("concurrent index build", () => {
  it("drops an INVALID idx_account_type left by a failed concurrent build and rebuilds it", async () => {
    const db = await legacyDatabase(20);
    await migrate({ databaseUrl: db.url, action: "up", to: 2, backup: false });
    // A unique build over duplicate values fails and leaves the index INVALID.
    await expect(
      db.sql.unsafe("CREATE UNIQUE INDEX CONCURRENTLY idx_account_type ON accounts (account_type)"),
    ).rejects.toThrow();
    const [invalid] = await db.sql`
      SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'idx_account_type'
    `;
    expect(invalid?.valid).toBe(false);
    const report = await migrate({ databaseUrl: db.url, action: "up", backup: false });
    expect(report.error).toBeUndefined();
    const [rebuilt] = await db.sql`
      SELECT i.indisvalid AS valid, i.indisunique AS is_unique FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'idx_account_type'
    `;
    expect(rebuilt).toEqual({ valid: true, is_unique: false });
  });
});

describe("time zone", () => {
  it("stores UTC even when the server's default TimeZone is Asia/Seoul", async () => {
    const db = await legacyDatabase(1);
    const name = new URL(db.url).pathname.slice(1);
    await db.sql.unsafe(`ALTER DATABASE ${name} SET timezone = 'Asia/Seoul'`);
    await migrate({ databaseUrl: db.url, action: "up", backup: false });
    const sql = createSql(db.url, { max: 1 });
    try {
      const [setting] = await sql`SELECT current_setting('TimeZone') AS tz`;
      expect(setting?.tz).toBe("UTC");
      const [row] = await sql<{ created_at: Date }[]>`
        INSERT INTO securities_tokens (account_id, access_token, expires_in, expires_at)
        VALUES (1, 'x', 86400, ${new Date(Date.now() + 86_400_000)}) RETURNING created_at
      `;
      expect(Math.abs((row?.created_at.getTime() ?? 0) - Date.now())).toBeLessThan(60_000);
    } finally {
      await sql.end();
    }
  });
});

describe("the psql way", async () => {
  // Skipped only where the Postgres client is not installed; under CI=true a missing psql fails.
  const psql = toolOnPath("psql");
  const skipped = psql ? "" : " (skipped: psql is not installed)";
  it.skipIf(!psql)(
    `applies the securities files atomically and a second run is a no-op${skipped}`,
    async () => {
      const db = await freshDatabase();
      const files = [
        "0001_baseline_accounts.sql",
        "0002_add_securities_support.sql",
        "0003_index_account_type.sql",
      ];
      const url = new URL(db.url);
      const env = { ...process.env, PGPASSWORD: decodeURIComponent(url.password) };
      url.password = "";
      const psqlRun = (file: string) =>
        run(
          psql as string,
          ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url.toString(), "-f", join(MIGRATIONS, file)],
          { env },
        );
      for (const file of files) await psqlRun(file);
      expect((await verifySeedSchema(db.sql)).ok).toBe(true);
      const second = await Promise.all(files.map(psqlRun));
      expect(second.map((s) => s.stderr).join("")).toContain("컬럼 이미 존재함");
      expect((await verifySeedSchema(db.sql)).ok).toBe(true);
    },
  );

  it.skipIf(!psql)(
    `leaves nothing behind when the securities file fails under psql${skipped}`,
    async () => {
      const db = await legacyDatabase(5);
      await db.sql`CREATE VIEW securities_tokens AS SELECT 1 AS x`;
      const url = new URL(db.url);
      const env = { ...process.env, PGPASSWORD: decodeURIComponent(url.password) };
      url.password = "";
      await expect(
        run(
          psql as string,
          [
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url.toString(),
            "-f",
            join(MIGRATIONS, "0002_add_securities_support.sql"),
          ],
          { env },
        ),
      ).rejects.toThrow(/not a table/);
      const [state] = await db.sql`
      SELECT (SELECT count(*)::int FROM information_schema.columns WHERE table_name = 'accounts' AND column_name = 'account_type') AS account_type
    `;
      expect(state?.account_type).toBe(0);
    },
  );
});

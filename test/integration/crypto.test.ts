import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  accountBinding,
  createAccount,
  ENCRYPTED_COLUMNS,
  getAccount,
  tokenBinding,
} from "../../core/accounts";
import {
  CiphertextAuthenticationError,
  createCipher,
  createLocalKeyProvider,
  dataKeyIdOf,
  listDataKeys,
  retireUnusedDataKeys,
  rewrapRows,
  rotateMasterKey,
} from "../../core/crypto";
import type { Sql } from "../../core/db";
import { dumpDatabase } from "../../core/migrations";
import { createTestCipher } from "../support/crypto";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { securitiesAccount } from "../support/tokens";
import { requiredUnderCi, toolOnPath } from "../support/tools";

const run = promisify(execFile);
let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

const secret = (label: string) => `${label}-${randomBytes(12).toString("base64url")}`;

async function insertSecuritiesAccount(sql: Sql, id: number): Promise<void> {
  await sql`
    INSERT INTO accounts (id, name, exchange, account_type) VALUES (${id}, ${`acct ${id}`}, 'KIS', 'SECURITIES_STOCK')
    ON CONFLICT (id) DO NOTHING`;
  await sql`
    INSERT INTO securities_tokens (account_id, access_token, expires_in, expires_at)
    VALUES (${id}, 'placeholder', 86400, now() + interval '1 day')
    ON CONFLICT (account_id) DO NOTHING`;
}

/**
 * The five columns that hold ciphertext, written out: a column dropped from
 * (or added to) the code's list fails here, and the tests below walk this
 * list, not the code's.
 */
const FIVE_ENCRYPTED_COLUMNS = [
  { table: "accounts", column: "api_key", rowIdColumn: "id", legacyPlaintext: true },
  { table: "accounts", column: "api_secret", rowIdColumn: "id", legacyPlaintext: true },
  { table: "accounts", column: "securities_config", rowIdColumn: "id" },
  { table: "accounts", column: "access_token", rowIdColumn: "id" },
  { table: "securities_tokens", column: "access_token", rowIdColumn: "account_id" },
];

describe("encrypted columns on real Postgres", () => {
  it("are accounts.api_key, accounts.api_secret, accounts.securities_config, accounts.access_token and securities_tokens.access_token", () => {
    expect(ENCRYPTED_COLUMNS).toEqual(FIVE_ENCRYPTED_COLUMNS);
  });

  it("every registered column round-trips a ciphertext bound to its row", async () => {
    const { cipher } = createTestCipher(db.sql);
    await insertSecuritiesAccount(db.sql, 9001);
    for (const target of FIVE_ENCRYPTED_COLUMNS) {
      const binding = { table: target.table, column: target.column, rowId: 9001 };
      const plaintext = secret(`${target.table}.${target.column}`);
      const ciphertext = await cipher.encrypt(plaintext, binding);
      await db.sql`UPDATE ${db.sql(target.table)} SET ${db.sql(target.column)} = ${ciphertext}
        WHERE ${db.sql(target.rowIdColumn)} = 9001`;
      const [row] = await db.sql<{ value: string }[]>`SELECT ${db.sql(target.column)} AS value
        FROM ${db.sql(target.table)} WHERE ${db.sql(target.rowIdColumn)} = 9001`;
      expect(row?.value).toBe(ciphertext);
      expect(await cipher.decrypt(row?.value as string, binding)).toBe(plaintext);
    }
  });

  it("swapping two rows' ciphertexts makes both fail to decrypt, in every registered column", async () => {
    const { cipher } = createTestCipher(db.sql);
    await insertSecuritiesAccount(db.sql, 9002);
    await insertSecuritiesAccount(db.sql, 9003);
    for (const target of FIVE_ENCRYPTED_COLUMNS) {
      const bind = (rowId: number) => ({ table: target.table, column: target.column, rowId });
      const a = await cipher.encrypt("value of row a", bind(9002));
      const b = await cipher.encrypt("value of row b", bind(9003));
      await expect(cipher.decrypt(a, bind(9003))).rejects.toBeInstanceOf(
        CiphertextAuthenticationError,
      );
      await expect(cipher.decrypt(b, bind(9002))).rejects.toBeInstanceOf(
        CiphertextAuthenticationError,
      );
    }
    // and across columns of the same row
    const apiKey = await cipher.encrypt("x", { table: "accounts", column: "api_key", rowId: 9002 });
    await expect(
      cipher.decrypt(apiKey, { table: "accounts", column: "api_secret", rowId: 9002 }),
    ).rejects.toBeInstanceOf(CiphertextAuthenticationError);
  });

  it("a second process reads with the stored data keys and one unwrap per key", async () => {
    const masterKey = randomBytes(32);
    const writer = createTestCipher(db.sql, { masterKey, maxDataKeyUses: 10 });
    const binding = (rowId: number) => ({ table: "accounts", column: "api_key", rowId });
    const values = await Promise.all(
      Array.from({ length: 30 }, (_, i) => writer.cipher.encrypt(`v${i}`, binding(i + 1))),
    );
    const keys = createLocalKeyProvider({ masterKey });
    let unwraps = 0;
    const counting = {
      ...keys,
      unwrapDataKey: (key: Parameters<typeof keys.unwrapDataKey>[0]) => {
        unwraps++;
        return keys.unwrapDataKey(key);
      },
    };
    const reader = createCipher({ sql: db.sql, keys: counting });
    const read = await Promise.all(values.map((value, i) => reader.decrypt(value, binding(i + 1))));
    expect(read[29]).toBe("v29");
    expect(unwraps).toBe(new Set(values.map(dataKeyIdOf)).size);
  });
});

describe("a database dump", () => {
  it("of 100 accounts with tokens contains none of their plaintext secrets", async () => {
    const dump = await createTestDatabase();
    try {
      const { cipher } = createTestCipher(dump.sql);
      const secrets: string[] = [];
      for (let i = 0; i < 100; i++) {
        const securities = i % 2 === 0;
        const body = securities
          ? {
              name: `acct ${i}`,
              account_type: "SECURITIES_STOCK" as const,
              exchange: "KIS",
              environment: "real" as const,
              api_key: secret("appkey"),
              api_secret: secret("appsecret"),
              securities_config: {
                account_number: String(10_000_000 + Math.floor(Math.random() * 89_999_999)),
                product_code: "01",
                market_type: "DOMESTIC_STOCK" as const,
                cert_password: secret("certpw"),
              },
            }
          : {
              name: `acct ${i}`,
              account_type: "CRYPTO" as const,
              exchange: "upbit",
              api_key: secret("key"),
              api_secret: secret("sec"),
            };
        const account = await createAccount(dump.sql, cipher, body);
        secrets.push(body.api_key, body.api_secret);
        if (body.securities_config)
          secrets.push(body.securities_config.cert_password, body.securities_config.account_number);
        const token = secret("token");
        secrets.push(token);
        await dump.sql`
          INSERT INTO securities_tokens (account_id, access_token, expires_in, expires_at)
          VALUES (${account.id}, ${await cipher.encrypt(token, tokenBinding(account.id))}, 86400, now() + interval '1 day')`;
        await dump.sql`UPDATE accounts SET access_token = ${await cipher.encrypt(token, { table: "accounts", column: "access_token", rowId: account.id })}
          WHERE id = ${account.id}`;
      }
      const text = await dumpText(dump);
      expect(text).toContain("acct 99");
      expect(text.length).toBeGreaterThan(10_000);
      for (const value of secrets)
        expect(text.includes(value), "a plaintext secret is in the dump").toBe(false);
      const account = await getAccount(dump.sql, cipher, 1);
      expect(secrets).toContain(account.apiSecret);
    } finally {
      await dump.drop();
    }
  });
});

/**
 * pg_dump when it is on PATH and of the server's major version, else every
 * table selected as text; under CI=true a missing or other pg_dump fails.
 */
async function dumpText(target: TestDatabase): Promise<string> {
  const pgDump = toolOnPath("pg_dump");
  const [server] = await target.sql<
    { major: string }[]
  >`SELECT current_setting('server_version_num')::int / 10000 AS major`;
  if (pgDump) {
    const { stdout } = await run(pgDump, ["--version"]);
    const major = Number(/(\d+)/.exec(stdout)?.[1] ?? 0);
    if (major === Number(server?.major)) {
      const dir = await mkdtemp(join(tmpdir(), "dump-"));
      try {
        const result = await dumpDatabase({
          pgDump,
          databaseUrl: target.url,
          serverMajor: major,
          dir,
          now: new Date(),
        });
        return await readFile(result.path, "utf8");
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
    requiredUnderCi(`pg_dump is version ${major}, the server ${server?.major}`);
  }
  const tables = await target.sql<{ name: string }[]>`
    SELECT quote_ident(table_name) AS name FROM information_schema.tables
    WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`;
  const parts: string[] = [];
  for (const table of tables) {
    const rows = await target.sql.unsafe(`SELECT t::text AS line FROM ${table.name} t`);
    parts.push(...rows.map((row) => String(row.line)));
  }
  return parts.join("\n");
}

describe("key rotation", () => {
  it("rotate re-wraps every data key under the new master key and old ciphertexts still decrypt", async () => {
    const rot = await createTestDatabase();
    try {
      const oldKey = randomBytes(32);
      const first = createTestCipher(rot.sql, { masterKey: oldKey, maxDataKeyUses: 2 });
      const binding = (rowId: number) => ({ table: "accounts", column: "api_secret", rowId });
      const values = [];
      for (let i = 1; i <= 5; i++) values.push(await first.cipher.encrypt(`s${i}`, binding(i)));
      const newKeys = createLocalKeyProvider({
        masterKey: randomBytes(32),
        previousMasterKeys: [oldKey],
      });
      const progress: number[] = [];
      const result = await rotateMasterKey({
        sql: rot.sql,
        keys: newKeys,
        onProgress: (done) => progress.push(done),
      });
      expect(result).toEqual({ dataKeys: 3, rewrapped: 3, changed: 0, failed: [] });
      expect(progress).toEqual([1, 2, 3]);
      expect(new Set((await listDataKeys(rot.sql)).map((key) => key.masterKeyId))).toEqual(
        new Set([newKeys.masterKeyId]),
      );
      const reader = createCipher({ sql: rot.sql, keys: newKeys });
      expect(await reader.decrypt(values[4] as string, binding(5))).toBe("s5");
      const stale = createCipher({
        sql: rot.sql,
        keys: createLocalKeyProvider({ masterKey: oldKey }),
      });
      await expect(stale.decrypt(values[0] as string, binding(1))).rejects.toThrow(
        /not configured/,
      );
    } finally {
      await rot.drop();
    }
  });

  it("rewrap moves every row to a fresh data key, skips legacy plaintext unless asked, and retire removes the old keys", async () => {
    const rw = await createTestDatabase();
    try {
      const masterKey = randomBytes(32);
      const old = createTestCipher(rw.sql, { masterKey, maxDataKeyUses: 3 });
      const ids: number[] = [];
      for (let i = 0; i < 8; i++) {
        const account = await createAccount(rw.sql, old.cipher, {
          name: `c${i}`,
          account_type: "CRYPTO",
          exchange: "upbit",
          api_key: `key-${i}`,
          api_secret: `secret-${i}`,
        });
        ids.push(account.id);
      }
      // Securities accounts with a token: all five columns hold ciphertext.
      const securities: { id: number; token: string }[] = [];
      for (const broker of ["KIS", "KIWOOM"] as const) {
        const account = await securitiesAccount(rw.sql, old.cipher, { broker });
        const token = `token-${broker}-${randomBytes(8).toString("hex")}`;
        await rw.sql`UPDATE accounts SET access_token = ${await old.cipher.encrypt(token, accountBinding("access_token", account.id))}
          WHERE id = ${account.id}`;
        await rw.sql`INSERT INTO securities_tokens (account_id, access_token, expires_in, expires_at)
          VALUES (${account.id}, ${await old.cipher.encrypt(token, tokenBinding(account.id))}, 86400, now() + interval '1 day')`;
        securities.push({ id: account.id, token });
      }
      await rw.sql`INSERT INTO accounts (name, exchange, api_key, api_secret) VALUES ('legacy', 'binance', 'LEGACYKEY', 'LEGACYSECRET')`;
      const before = (await listDataKeys(rw.sql)).map((key) => key.id);

      const fresh = createTestCipher(rw.sql, { masterKey });
      const seen: string[] = [];
      const result = await rewrapRows({
        sql: rw.sql,
        cipher: fresh.cipher,
        columns: ENCRYPTED_COLUMNS,
        batchSize: 3,
        onProgress: (p) => seen.push(`${p.table}.${p.column}:${p.lastRowId}`),
      });
      // 8 crypto accounts x 2 columns, 2 securities accounts x 5 columns.
      expect(result).toMatchObject({
        rewrapped: 26,
        legacySkipped: 2,
        legacyMigrated: 0,
        changed: 0,
        failed: [],
      });
      expect(seen).toContain(`accounts.api_key:${ids[2]}`);
      const [legacy] = await rw.sql<
        { api_key: string }[]
      >`SELECT api_key FROM accounts WHERE name = 'legacy'`;
      expect(legacy?.api_key).toBe("LEGACYKEY");

      const again = await rewrapRows({
        sql: rw.sql,
        cipher: fresh.cipher,
        columns: ENCRYPTED_COLUMNS,
        belowDataKeyId: result.belowDataKeyId,
      });
      expect(again.rewrapped).toBe(0);

      const migrated = await rewrapRows({
        sql: rw.sql,
        cipher: fresh.cipher,
        columns: ENCRYPTED_COLUMNS,
        migrateLegacyPlaintext: true,
      });
      expect(migrated.legacyMigrated).toBe(2);
      const [row] = await rw.sql<
        { id: number; api_key: string }[]
      >`SELECT id, api_key FROM accounts WHERE name = 'legacy'`;
      expect(row?.api_key).toMatch(/^v1\./);
      expect(
        await fresh.cipher.decrypt(row?.api_key as string, {
          table: "accounts",
          column: "api_key",
          rowId: row?.id as number,
        }),
      ).toBe("LEGACYKEY");

      // Two steps: the first run retires the unused keys, a later one deletes them.
      const options = { sql: rw.sql, columns: ENCRYPTED_COLUMNS, maxDataKeyAgeMs: 0, marginMs: 0 };
      const retired = await retireUnusedDataKeys(options);
      expect(retired.retired).toEqual(before);
      expect(retired.deleted).toEqual([]);
      const deleted = await retireUnusedDataKeys(options);
      expect(deleted.deleted).toEqual(before);
      const account = await getAccount(
        rw.sql,
        createTestCipher(rw.sql, { masterKey }).cipher,
        ids[7] as number,
      );
      expect(account.apiSecret).toBe("secret-7");
      // The securities accounts and their tokens read back under the new keys only.
      const reader = createTestCipher(rw.sql, { masterKey }).cipher;
      const kept = new Set((await listDataKeys(rw.sql)).map((key) => key.id));
      for (const { id, token } of securities) {
        const [row] = await rw.sql<
          { api_key: string; securities_config: string; mirror: string; store: string }[]
        >`SELECT a.api_key, a.securities_config, a.access_token AS mirror, st.access_token AS store
          FROM accounts a JOIN securities_tokens st ON st.account_id = a.id WHERE a.id = ${id}`;
        for (const value of Object.values(row ?? {})) {
          expect(kept.has(dataKeyIdOf(value) as number)).toBe(true);
          expect(before).not.toContain(dataKeyIdOf(value));
        }
        const securitiesAcct = await getAccount(rw.sql, reader, id);
        expect(securitiesAcct.securitiesConfig?.cert_password).toBe("cert-pw-123");
        expect(await reader.decrypt(row?.store as string, tokenBinding(id))).toBe(token);
        expect(
          await reader.decrypt(row?.mirror as string, accountBinding("access_token", id)),
        ).toBe(token);
      }
    } finally {
      await rw.drop();
    }
  });

  it("rewrap never overwrites a row the service changed meanwhile", async () => {
    const cs = await createTestDatabase();
    try {
      const masterKey = randomBytes(32);
      const { cipher } = createTestCipher(cs.sql, { masterKey });
      const account = await createAccount(cs.sql, cipher, {
        name: "c",
        account_type: "CRYPTO",
        exchange: "upbit",
        api_key: "k1",
        api_secret: "s1",
      });
      const fresh = createTestCipher(cs.sql, { masterKey });
      // The service writes a new secret between rewrap's read and its update.
      const racing = {
        ...fresh.cipher,
        async encrypt(
          plaintext: string,
          binding: { table: string; column: string; rowId: number },
        ) {
          if (binding.column === "api_secret") {
            await cs.sql`UPDATE accounts SET api_secret = ${await cipher.encrypt("s2", binding)} WHERE id = ${account.id}`;
          }
          return fresh.cipher.encrypt(plaintext, binding);
        },
      };
      const result = await rewrapRows({ sql: cs.sql, cipher: racing, columns: ENCRYPTED_COLUMNS });
      expect(result.changed).toBe(1);
      const after = await getAccount(cs.sql, cipher, account.id);
      expect(after.apiSecret).toBe("s2");
    } finally {
      await cs.drop();
    }
  });
});

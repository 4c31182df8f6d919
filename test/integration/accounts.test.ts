import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  accountBinding,
  createAccount,
  deleteAccount,
  getAccount,
  listAccounts,
  loadBrokerCredentials,
  parseCreateAccount,
  parseUpdateAccount,
  tokenBinding,
  toPublicAccount,
  updateAccount,
} from "../../core/accounts";
import { ConflictError, NotFoundError, ValidationError } from "../../core/errors";
import { createTestCipher } from "../support/crypto";
import { createTestDatabase, type TestDatabase } from "../support/database";

let db: TestDatabase;
let cipher: ReturnType<typeof createTestCipher>["cipher"];
beforeAll(async () => {
  db = await createTestDatabase();
  cipher = createTestCipher(db.sql).cipher;
});
afterAll(async () => {
  await db?.drop();
});

const kisBody = () =>
  parseCreateAccount({
    name: "KIS main",
    account_type: "SECURITIES_STOCK",
    exchange: "KIS",
    environment: "paper",
    api_key: "PS-app-key-0123456789",
    api_secret: "kis-app-secret-value",
    securities_config: {
      account_number: "12345678",
      product_code: "01",
      market_type: "DOMESTIC_STOCK",
      cert_password: "cert-pass-value",
      additional_params: { branch: "seoul" },
    },
  });

describe("account store", () => {
  it("creates a securities account whose secrets reach the database only encrypted and bound to its id", async () => {
    const account = await createAccount(db.sql, cipher, kisBody());
    expect(account).toMatchObject({
      accountType: "SECURITIES_STOCK",
      broker: "KIS",
      environment: "paper",
    });
    const [row] =
      await db.sql`SELECT api_key, api_secret, securities_config, account_type FROM accounts WHERE id = ${account.id}`;
    const stored = JSON.stringify(row);
    for (const secret of ["PS-app-key", "kis-app-secret", "cert-pass", "12345678"])
      expect(stored).not.toContain(secret);
    expect(row?.account_type).toBe("SECURITIES_STOCK");
    expect(
      JSON.parse(
        await cipher.decrypt(
          row?.securities_config,
          accountBinding("securities_config", account.id),
        ),
      ),
    ).toEqual({
      account_number: "12345678",
      product_code: "01",
      market_type: "DOMESTIC_STOCK",
      cert_password: "cert-pass-value",
      additional_params: { branch: "seoul" },
      environment: "paper",
    });
  });

  it("reads an account back decrypted and shows it redacted", async () => {
    const created = await createAccount(db.sql, cipher, kisBody());
    const account = await getAccount(db.sql, cipher, created.id);
    expect(account.apiSecret).toBe("kis-app-secret-value");
    const shown = toPublicAccount(account);
    expect(shown.securities_config).toMatchObject({
      account_number: "****5678",
      has_cert_password: true,
    });
    expect(JSON.stringify(shown)).not.toContain("kis-app-secret-value");
  });

  it("lists accounts by type", async () => {
    await createAccount(
      db.sql,
      cipher,
      parseCreateAccount({
        name: "Upbit",
        account_type: "CRYPTO",
        exchange: "upbit",
        api_key: "k",
        api_secret: "s",
      }),
    );
    const page = async (type?: "CRYPTO" | "SECURITIES_STOCK") =>
      (await listAccounts(db.sql, cipher, { limit: 500, ...(type ? { type } : {}) })).accounts;
    const crypto = await page("CRYPTO");
    const securities = await page("SECURITIES_STOCK");
    expect(crypto.length).toBeGreaterThan(0);
    expect(crypto.every((a) => "accountType" in a && a.accountType === "CRYPTO")).toBe(true);
    expect(
      securities.every((a) => "accountType" in a && a.accountType === "SECURITIES_STOCK"),
    ).toBe(true);
    expect((await page()).length).toBe(crypto.length + securities.length);
  });

  it("reads legacy plaintext api keys as they are", async () => {
    const [row] = await db.sql<{ id: number }[]>`
      INSERT INTO accounts (name, exchange, api_key, api_secret) VALUES ('legacy', 'binance', 'LEGACYKEY123', 'LEGACYSECRET') RETURNING id`;
    const account = await getAccount(db.sql, cipher, row?.id as number);
    expect(account).toMatchObject({
      apiKey: "LEGACYKEY123",
      apiSecret: "LEGACYSECRET",
      accountType: "CRYPTO",
    });
  });

  it("loads broker credentials of a securities account and refuses a crypto one", async () => {
    const account = await createAccount(db.sql, cipher, kisBody());
    const loaded = await loadBrokerCredentials(db.sql, cipher, account.id);
    expect(loaded).toMatchObject({
      accountId: account.id,
      broker: "KIS",
      environment: "paper",
      appKey: "PS-app-key-0123456789",
      appSecret: "kis-app-secret-value",
    });
    // The stamp is the stored columns, ciphertexts only.
    expect(loaded.stamp?.exchange).toBe("KIS");
    expect(JSON.stringify(loaded.stamp)).not.toContain("PS-app-key");
    expect(JSON.stringify(loaded.stamp)).not.toContain("kis-app-secret");
    const crypto = await createAccount(
      db.sql,
      cipher,
      parseCreateAccount({
        name: "c",
        account_type: "CRYPTO",
        exchange: "upbit",
        api_key: "k",
        api_secret: "s",
      }),
    );
    await expect(loadBrokerCredentials(db.sql, cipher, crypto.id)).rejects.toBeInstanceOf(
      ConflictError,
    );
    await expect(loadBrokerCredentials(db.sql, cipher, 999_999)).rejects.toBeInstanceOf(
      NotFoundError,
    );
  });

  it("a patch that changes credentials is reported with the previous credentials", async () => {
    const account = await createAccount(db.sql, cipher, kisBody());
    const renamed = await updateAccount(
      db.sql,
      cipher,
      account.id,
      parseUpdateAccount({ name: "renamed" }),
    );
    expect(renamed.credentialsChanged).toBe(false);
    const rekeyed = await updateAccount(
      db.sql,
      cipher,
      account.id,
      parseUpdateAccount({ api_secret: "new-secret", environment: "real" }),
    );
    expect(rekeyed.credentialsChanged).toBe(true);
    expect(rekeyed.previousCredentials).toMatchObject({
      appSecret: "kis-app-secret-value",
      environment: "paper",
    });
    expect(await loadBrokerCredentials(db.sql, cipher, account.id)).toMatchObject({
      appSecret: "new-secret",
      environment: "real",
    });
    const again = await getAccount(db.sql, cipher, account.id);
    expect(again.securitiesConfig?.cert_password).toBe("cert-pass-value");
  });

  it("concurrent patches of one account's secrets are each merged, none lost", async () => {
    const account = await createAccount(db.sql, cipher, kisBody());
    const results = await Promise.all([
      updateAccount(db.sql, cipher, account.id, parseUpdateAccount({ api_secret: "secret-two" })),
      updateAccount(
        db.sql,
        cipher,
        account.id,
        parseUpdateAccount({ securities_config: { account_number: "87654321" } }),
      ),
      updateAccount(
        db.sql,
        cipher,
        account.id,
        parseUpdateAccount({ api_key: "PS-key-three-000" }),
      ),
    ]);
    expect(results.map((r) => r.credentialsChanged)).toEqual([true, false, true]);
    const after = await getAccount(db.sql, cipher, account.id);
    expect(after.apiSecret).toBe("secret-two");
    expect(after.apiKey).toBe("PS-key-three-000");
    expect(after.securitiesConfig?.account_number).toBe("87654321");
    expect(after.securitiesConfig?.cert_password).toBe("cert-pass-value");
  });

  it("a patch that deactivates an account says so and hands back its credentials", async () => {
    const account = await createAccount(db.sql, cipher, kisBody());
    const off = await updateAccount(
      db.sql,
      cipher,
      account.id,
      parseUpdateAccount({ is_active: false }),
    );
    expect(off.deactivated).toBe(true);
    expect(off.previousCredentials).toMatchObject({ appKey: "PS-app-key-0123456789" });
    const again = await updateAccount(
      db.sql,
      cipher,
      account.id,
      parseUpdateAccount({ is_active: false }),
    );
    expect(again.deactivated).toBe(false);
  });

  it("a patch is validated against the stored account and changes nothing when invalid", async () => {
    const account = await createAccount(db.sql, cipher, kisBody());
    const error = await updateAccount(
      db.sql,
      cipher,
      account.id,
      parseUpdateAccount({ securities_config: { account_number: "1234567890" } }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues[0]?.field).toBe("securities_config.account_number");
    const kiwoom = await updateAccount(
      db.sql,
      cipher,
      account.id,
      parseUpdateAccount({
        exchange: "KIWOOM",
        securities_config: { account_number: "1234567890" },
      }),
    );
    expect(kiwoom.account.broker).toBe("KIWOOM");
    expect(kiwoom.credentialsChanged).toBe(true);
    await expect(
      updateAccount(db.sql, cipher, account.id, parseUpdateAccount({ exchange: "upbit" })),
    ).rejects.toBeInstanceOf(ValidationError);
    expect((await getAccount(db.sql, cipher, account.id)).exchange).toBe("KIWOOM");
  });

  it("delete returns the credentials and token needed to revoke it and removes the token row", async () => {
    const account = await createAccount(db.sql, cipher, kisBody());
    await db.sql`
      INSERT INTO securities_tokens (account_id, access_token, expires_in, expires_at)
      VALUES (${account.id}, ${await cipher.encrypt("access-token-value", tokenBinding(account.id))}, 86400, now() + interval '1 day')`;
    const deleted = await deleteAccount(db.sql, cipher, account.id);
    expect(deleted.revoke).toMatchObject({
      accessToken: "access-token-value",
      credentials: { appKey: "PS-app-key-0123456789" },
    });
    const [left] =
      await db.sql`SELECT count(*)::int AS n FROM securities_tokens WHERE account_id = ${account.id}`;
    expect(left?.n).toBe(0);
    await expect(getAccount(db.sql, cipher, account.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(deleteAccount(db.sql, cipher, account.id)).rejects.toBeInstanceOf(NotFoundError);
  });

  it("works inside a caller's transaction", async () => {
    const id = await db.sql.begin(async (tx) => {
      const account = await createAccount(tx, cipher, kisBody());
      await updateAccount(tx, cipher, account.id, parseUpdateAccount({ is_active: false }));
      return account.id;
    });
    expect((await getAccount(db.sql, cipher, id)).isActive).toBe(false);
  });
});

import { describe, expect, it } from "vitest";
import {
  type PublicAccount,
  parseCreateAccount,
  parseUpdateAccount,
  toPublicAccount,
} from "../../core/accounts";
import { ValidationError } from "../../core/errors";

const kis = {
  name: "KIS main",
  account_type: "SECURITIES_STOCK",
  exchange: "KIS",
  environment: "real",
  api_key: "PSabcdefghijklmnopqrstuvwxyz0123456789",
  api_secret: "app-secret-value",
  securities_config: {
    account_number: "12345678",
    product_code: "01",
    market_type: "DOMESTIC_STOCK",
    cert_password: "cert-pass",
    additional_params: {},
  },
};
const crypto = {
  name: "Upbit",
  account_type: "CRYPTO",
  exchange: "upbit",
  api_key: "k".repeat(40),
  api_secret: "s",
};

function issuesOf(run: () => unknown): Record<string, string> {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return Object.fromEntries(
      (error as ValidationError).issues.map((issue) => [issue.field, issue.message]),
    );
  }
  throw new Error("expected a ValidationError");
}
const create = (body: unknown) => issuesOf(() => parseCreateAccount(body));
const withConfig = (config: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  ...kis,
  ...extra,
  securities_config: { ...kis.securities_config, ...config },
});

describe("create account validation", () => {
  it("accepts the issue's KIS example and a crypto account", () => {
    expect(parseCreateAccount(kis).securities_config?.account_number).toBe("12345678");
    expect(parseCreateAccount(crypto).exchange).toBe("upbit");
  });

  it("accepts a Kiwoom account with a 10-digit account number and no product code", () => {
    const { product_code: _, ...config } = kis.securities_config;
    const body = {
      ...kis,
      exchange: "KIWOOM",
      securities_config: { ...config, account_number: "1234567890" },
    };
    expect(parseCreateAccount(body).exchange).toBe("KIWOOM");
  });

  it("KIS account numbers must be exactly 8 digits", () => {
    for (const number of ["1234567", "123456789", "1234567890", "1234567a", ""]) {
      expect(create(withConfig({ account_number: number }))).toHaveProperty([
        "securities_config.account_number",
      ]);
    }
  });

  it("KIS product codes must be one of 01, 03, 08, 22, 29 and are required", () => {
    for (const code of ["01", "03", "08", "22", "29"])
      expect(parseCreateAccount(withConfig({ product_code: code }))).toBeTruthy();
    expect(create(withConfig({ product_code: "02" }))).toHaveProperty([
      "securities_config.product_code",
    ]);
    expect(create(withConfig({ product_code: undefined }))).toHaveProperty([
      "securities_config.product_code",
    ]);
  });

  it("Kiwoom account numbers are 8 or 10 digits and product codes 2 digits", () => {
    const kiwoom = (config: Record<string, unknown>) => withConfig(config, { exchange: "KIWOOM" });
    expect(parseCreateAccount(kiwoom({ account_number: "12345678" }))).toBeTruthy();
    expect(create(kiwoom({ account_number: "123456789" }))).toHaveProperty([
      "securities_config.account_number",
    ]);
    expect(create(kiwoom({ product_code: "1" }))).toHaveProperty([
      "securities_config.product_code",
    ]);
  });

  it("market_type must come from the fixed list", () => {
    for (const market of [
      "DOMESTIC_STOCK",
      "OVERSEAS_STOCK",
      "DOMESTIC_FUTURES_OPTIONS",
      "OVERSEAS_FUTURES_OPTIONS",
    ]) {
      expect(parseCreateAccount(withConfig({ market_type: market }))).toBeTruthy();
    }
    expect(create(withConfig({ market_type: "CRYPTO" }))["securities_config.market_type"]).toMatch(
      /one of/,
    );
  });

  it("names are 1 to 100 characters and crypto exchanges 1 to 50", () => {
    expect(create({ ...crypto, name: "" })).toHaveProperty("name");
    expect(create({ ...crypto, name: "n".repeat(101) })).toHaveProperty("name");
    expect(parseCreateAccount({ ...crypto, name: "n".repeat(100) })).toBeTruthy();
    expect(create({ ...crypto, exchange: "e".repeat(51) })).toHaveProperty("exchange");
    expect(create({ ...crypto, exchange: "" })).toHaveProperty("exchange");
  });

  it("keys and secrets must be non-empty and of sane length", () => {
    expect(create({ ...crypto, api_key: "" })).toHaveProperty("api_key");
    expect(create({ ...crypto, api_key: "k".repeat(513) })).toHaveProperty("api_key");
    expect(create({ ...crypto, api_secret: "s".repeat(1025) })).toHaveProperty("api_secret");
    expect(create({ ...kis, api_secret: undefined }).api_secret).toBe("is required");
  });

  it("securities accounts must use exchange KIS or KIWOOM", () => {
    expect(create({ ...kis, exchange: "upbit" }).exchange).toMatch(/KIS or KIWOOM/);
  });

  it("environment must be real or paper, and only securities accounts have one", () => {
    expect(create({ ...kis, environment: "sandbox" })).toHaveProperty("environment");
    expect(create({ ...crypto, environment: "real" })).toHaveProperty("environment");
    expect(create({ ...crypto, securities_config: kis.securities_config })).toHaveProperty(
      "securities_config",
    );
    expect(create({ ...kis, securities_config: undefined })).toHaveProperty("securities_config");
  });

  it("account_type must be CRYPTO or SECURITIES_STOCK", () => {
    expect(create({ ...crypto, account_type: "FUTURES" })).toHaveProperty("account_type");
  });

  it("strings holding NUL characters are rejected wherever they appear", () => {
    expect(create({ ...crypto, name: "a\u0000b" })).toHaveProperty("name");
    expect(create({ ...crypto, api_secret: "a\u0000b" })).toHaveProperty("api_secret");
    expect(create(withConfig({ cert_password: "\u0000" }))).toHaveProperty([
      "securities_config.cert_password",
    ]);
    expect(create(withConfig({ additional_params: { x: "\u0000" } }))).toHaveProperty([
      "securities_config.additional_params.x",
    ]);
  });

  it("unknown fields are rejected one issue each, nested ones with their dotted path", () => {
    const issues = create({ ...withConfig({ pin: "1234" }), owner: "me", admin: true });
    expect(issues).toMatchObject({
      owner: "is not a known field",
      admin: "is not a known field",
      "securities_config.pin": "is not a known field",
    });
  });

  it("reports every offending field at once, one issue per field", () => {
    const issues = create({
      ...withConfig({ account_number: "1", market_type: "X" }),
      name: "",
      api_key: 5,
    });
    expect(Object.keys(issues).sort()).toEqual(
      [
        "api_key",
        "name",
        "securities_config.account_number",
        "securities_config.market_type",
      ].sort(),
    );
    expect(issues.api_key).toBe("must be a string");
  });

  it("a body that is not an object is one issue", () => {
    expect(create(null)).toEqual({ body: "must be a JSON object" });
    expect(create([])).toHaveProperty("body");
    expect(create("text")).toHaveProperty("body");
  });
});

describe("update account validation", () => {
  it("accepts a partial patch, including partial securities_config", () => {
    expect(parseUpdateAccount({ securities_config: { cert_password: "new" } })).toEqual({
      securities_config: { cert_password: "new" },
    });
  });

  it("rejects an empty patch, unknown fields and account_type changes", () => {
    expect(issuesOf(() => parseUpdateAccount({}))).toHaveProperty("body");
    expect(issuesOf(() => parseUpdateAccount({ account_type: "CRYPTO" }))).toHaveProperty(
      "account_type",
    );
    expect(issuesOf(() => parseUpdateAccount({ is_active: "yes" }))).toHaveProperty("is_active");
  });
});

describe("public account shape", () => {
  it("masks the account number and api key and never shows the secrets", () => {
    const account = {
      id: 1,
      name: "KIS main",
      accountType: "SECURITIES_STOCK" as const,
      exchange: "KIS",
      broker: "KIS" as const,
      environment: "real" as const,
      apiKey: kis.api_key,
      apiSecret: kis.api_secret,
      securitiesConfig: {
        account_number: "12345678",
        product_code: "01",
        market_type: "DOMESTIC_STOCK" as const,
        cert_password: "cert-pass",
        additional_params: {},
        environment: "real" as const,
      },
      isActive: true,
      tokenExpiresAt: null,
      createdAt: new Date(0),
      updatedAt: new Date(0),
    };
    const shown: PublicAccount = toPublicAccount(account);
    const text = JSON.stringify(shown);
    expect(shown.securities_config?.account_number).toBe("****5678");
    expect(shown.api_key).toBe("****6789");
    for (const secret of ["cert-pass", "app-secret-value", "12345678", kis.api_key])
      expect(text).not.toContain(secret);
  });
});

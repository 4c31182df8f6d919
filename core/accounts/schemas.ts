import * as z from "zod/mini";
import { BROKER_ADAPTERS, findBrokerAdapter } from "../brokers/adapters";
import { type FieldIssue, ValidationError } from "../errors";
import { ACCOUNT_TYPES, BROKER_ENVIRONMENTS, MARKET_TYPES } from "./types";

// Postgres TEXT cannot hold NUL, and UTF-8 cannot hold a lone surrogate:
// either would fail (or silently change) at the database, so reject here.
const UNSTORABLE = /[\uD800-\uDFFF]/u;
const storable = (value: string) => !value.includes("\0") && !UNSTORABLE.test(value);

type Issue = { input?: unknown };
const expected = (what: string) => (issue: Issue) =>
  issue.input === undefined ? "is required" : `must be ${what}`;

function text(max: number) {
  return z
    .string({ error: expected("a string") })
    .check(
      z.minLength(1, "must not be empty"),
      z.maxLength(max, `must be at most ${max} characters`),
      z.refine(storable, "must not contain NUL characters or unpaired surrogates"),
    );
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: expected(`one of ${values.join(", ")}`) });
}

/** The seed's securities_config fields as a request carries them. */
export const securitiesConfigSchema = z.strictObject(
  {
    account_number: z
      .string({ error: expected("a string of digits") })
      .check(
        z.regex(/^[0-9]{8}(?:[0-9]{2})?$/, "must be 8 digits (KIS), or 8 or 10 digits (Kiwoom)"),
      ),
    product_code: z.optional(
      z
        .string({ error: expected("a 2-digit string") })
        .check(z.regex(/^[0-9]{2}$/, "must be 2 digits")),
    ),
    market_type: oneOf(MARKET_TYPES),
    cert_password: z.optional(text(256)),
    /** KIS: the HTS id that execution notices (H0STCNI0/9) are registered with. */
    hts_id: z.optional(
      z
        .string({ error: expected("a string") })
        .check(z.regex(/^[A-Za-z0-9_-]{1,16}$/, "must be 1 to 16 letters, digits, _ or -")),
    ),
    additional_params: z.optional(
      z
        .record(
          text(64),
          z.union([text(1000), z.number(), z.boolean(), z.null()], {
            error: "values must be strings, numbers, booleans or null",
          }),
          { error: expected("an object") },
        )
        .check(
          z.refine((value) => Object.keys(value).length <= 50, "must have at most 50 entries"),
        ),
    ),
  },
  { error: expected("an object") },
);

/** POST /accounts body. Cross-field rules (per broker, per type) are applied by parseCreateAccount. */
export const createAccountSchema = z.strictObject(
  {
    name: text(100),
    account_type: oneOf(ACCOUNT_TYPES),
    exchange: text(50),
    environment: z.optional(oneOf(BROKER_ENVIRONMENTS)),
    api_key: text(512),
    api_secret: text(1024),
    securities_config: z.optional(securitiesConfigSchema),
  },
  { error: expected("a JSON object") },
);

/** PATCH /accounts/{id} body: every field optional; securities_config fields merge into the stored ones. */
export const updateAccountSchema = z.strictObject(
  {
    name: z.optional(text(100)),
    exchange: z.optional(text(50)),
    environment: z.optional(oneOf(BROKER_ENVIRONMENTS)),
    is_active: z.optional(z.boolean({ error: expected("true or false") })),
    api_key: z.optional(text(512)),
    api_secret: z.optional(text(1024)),
    securities_config: z.optional(z.partial(securitiesConfigSchema)),
  },
  { error: expected("a JSON object") },
);

export type CreateAccountRequest = z.infer<typeof createAccountSchema>;
export type UpdateAccountRequest = z.infer<typeof updateAccountSchema>;
export type SecuritiesConfigRequest = z.infer<typeof securitiesConfigSchema>;

/** Validates a create body; throws ValidationError with one issue per offending field. */
export function parseCreateAccount(body: unknown): CreateAccountRequest {
  const parsed = createAccountSchema.safeParse(body);
  const issues = parsed.success ? [] : toFieldIssues(parsed.error.issues);
  issues.push(...createRules(body));
  if (issues.length > 0 || !parsed.success) throw new ValidationError(onePerField(issues));
  return parsed.data;
}

/** Validates a patch body's shape; rules that depend on the stored account are checked by updateAccount. */
export function parseUpdateAccount(body: unknown): UpdateAccountRequest {
  const parsed = updateAccountSchema.safeParse(body);
  const issues = parsed.success ? [] : toFieldIssues(parsed.error.issues);
  if (parsed.success && Object.keys(parsed.data).length === 0) {
    issues.push({ field: "body", message: "must change at least one field" });
  }
  if (issues.length > 0 || !parsed.success) throw new ValidationError(onePerField(issues));
  return parsed.data;
}

/**
 * The rules that tie fields together, applied to the account as it will be
 * stored (a create body, or a stored account with a patch merged in).
 */
export function securitiesRules(account: {
  account_type?: unknown;
  exchange?: unknown;
  environment?: unknown;
  securities_config?: unknown;
}): FieldIssue[] {
  const issues: FieldIssue[] = [];
  if (account.account_type === "CRYPTO") {
    if (account.environment !== undefined) {
      issues.push({ field: "environment", message: "is only for SECURITIES_STOCK accounts" });
    }
    if (account.securities_config !== undefined) {
      issues.push({ field: "securities_config", message: "is only for SECURITIES_STOCK accounts" });
    }
    return issues;
  }
  if (account.account_type !== "SECURITIES_STOCK") return issues;
  const broker =
    typeof account.exchange === "string" ? findBrokerAdapter(account.exchange) : undefined;
  if (typeof account.exchange === "string" && !broker) {
    issues.push({
      field: "exchange",
      message: `must be ${Object.keys(BROKER_ADAPTERS).join(" or ")} for a SECURITIES_STOCK account`,
    });
  }
  const config = account.securities_config;
  if (config === undefined || config === null) {
    issues.push({
      field: "securities_config",
      message: "is required for a SECURITIES_STOCK account",
    });
    return issues;
  }
  if (typeof config !== "object") return issues;
  // What one broker asks beyond the shared shape (KIS: 8 digits and a product code) is its adapter's.
  issues.push(...(broker?.securitiesConfigIssues?.(config as Record<string, unknown>) ?? []));
  return issues;
}

function createRules(body: unknown): FieldIssue[] {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return [];
  return securitiesRules(body as Record<string, unknown>);
}

/** zod issues as our field issues: a dotted path each, one per unknown key. */
export function toFieldIssues(issues: readonly z.core.$ZodIssue[]): FieldIssue[] {
  const result: FieldIssue[] = [];
  for (const issue of issues) {
    const base = issue.path.map(String).join(".");
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys)
        result.push({ field: base ? `${base}.${key}` : key, message: "is not a known field" });
    } else {
      result.push({ field: base || "body", message: issue.message });
    }
  }
  return result;
}

function onePerField(issues: FieldIssue[]): FieldIssue[] {
  const seen = new Set<string>();
  return issues.filter((issue) => !seen.has(issue.field) && seen.add(issue.field));
}

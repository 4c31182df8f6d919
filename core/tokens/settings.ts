import { ValidationError } from "../errors";

/** How the token lifecycle behaves; every value has a safe default. */
export interface TokenSettings {
  /** The refresh job renews tokens expiring within this window (the seed's 6 hours). */
  refreshWindowMs: number;
  /** getValidToken never hands out a token expiring sooner than this. */
  safetyMarginMs: number;
  /** Accounts refreshed at once by one job run. */
  refreshConcurrency: number;
  /** A refresh run starts no new issuance after this long (keep it under the function timeout). */
  refreshTimeBudgetMs: number;
  /** How long getValidToken waits for another process's issuance or the broker's pace. */
  issueWaitMs: number;
  /** How long an issuer may hold the issuance lease; longer than a broker call can take. */
  issueLeaseMs: number;
  /**
   * The time an issuance needs once its slot is claimed: the broker call's
   * timeout plus a second for encrypting and committing. A request with less
   * left before its deadline does not claim (composeService sets it from BROKER_TIMEOUT_MS).
   */
  issueCallBudgetMs: number;
  /** Backoff after a failed refresh: base, doubled per consecutive failure, capped. */
  backoffBaseMs: number;
  backoffMaxMs: number;
}

export const DEFAULT_TOKEN_SETTINGS: TokenSettings = {
  refreshWindowMs: 6 * 3_600_000,
  safetyMarginMs: 5 * 60_000,
  refreshConcurrency: 8,
  refreshTimeBudgetMs: 4 * 60_000,
  issueWaitMs: 15_000,
  issueLeaseMs: 30_000,
  issueCallBudgetMs: 11_000,
  backoffBaseMs: 60_000,
  backoffMaxMs: 3_600_000,
};

const SETTINGS: {
  name: string;
  field: keyof TokenSettings;
  unitMs: number;
  min: number;
  max: number;
}[] = [
  { name: "REFRESH_WINDOW_HOURS", field: "refreshWindowMs", unitMs: 3_600_000, min: 0.1, max: 23 },
  { name: "TOKEN_SAFETY_MARGIN_SECONDS", field: "safetyMarginMs", unitMs: 1000, min: 0, max: 3600 },
  { name: "REFRESH_CONCURRENCY", field: "refreshConcurrency", unitMs: 1, min: 1, max: 256 },
  {
    name: "REFRESH_TIME_BUDGET_MS",
    field: "refreshTimeBudgetMs",
    unitMs: 1,
    min: 1000,
    max: 900_000,
  },
  { name: "TOKEN_ISSUE_WAIT_MS", field: "issueWaitMs", unitMs: 1, min: 0, max: 120_000 },
  { name: "TOKEN_ISSUE_LEASE_MS", field: "issueLeaseMs", unitMs: 1, min: 1000, max: 600_000 },
  {
    name: "REFRESH_BACKOFF_BASE_SECONDS",
    field: "backoffBaseMs",
    unitMs: 1000,
    min: 1,
    max: 86_400,
  },
  { name: "REFRESH_BACKOFF_MAX_SECONDS", field: "backoffMaxMs", unitMs: 1000, min: 1, max: 86_400 },
];

/** Reads the token settings from an environment object; one sentence per bad setting. */
export function parseTokenSettings(env: Record<string, string | undefined>): TokenSettings {
  const settings = { ...DEFAULT_TOKEN_SETTINGS };
  const issues: { field: string; message: string }[] = [];
  for (const spec of SETTINGS) {
    const raw = env[spec.name];
    if (raw === undefined || raw === "") continue;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < spec.min || value > spec.max) {
      issues.push({
        field: spec.name,
        message: `must be a number from ${spec.min} to ${spec.max}, got "${raw}"`,
      });
      continue;
    }
    settings[spec.field] = Math.round(value * spec.unitMs);
  }
  if (issues.length) throw new ValidationError(issues);
  return settings;
}

import { readNumberSetting, SETTINGS } from "../config";

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

const HOUR = 3_600_000;
const declared = (name: keyof typeof UNIT_MS) => (SETTINGS[name].default as number) * UNIT_MS[name];

/** The token settings read from the environment, and their unit in ms (core/config/settings.ts declares them). */
const UNIT_MS = {
  REFRESH_WINDOW_HOURS: HOUR,
  TOKEN_SAFETY_MARGIN_SECONDS: 1000,
  REFRESH_CONCURRENCY: 1,
  REFRESH_TIME_BUDGET_MS: 1,
  TOKEN_ISSUE_WAIT_MS: 1,
  TOKEN_ISSUE_LEASE_MS: 1,
  REFRESH_BACKOFF_BASE_SECONDS: 1000,
  REFRESH_BACKOFF_MAX_SECONDS: 1000,
} as const;

const FIELDS: Record<keyof typeof UNIT_MS, keyof TokenSettings> = {
  REFRESH_WINDOW_HOURS: "refreshWindowMs",
  TOKEN_SAFETY_MARGIN_SECONDS: "safetyMarginMs",
  REFRESH_CONCURRENCY: "refreshConcurrency",
  REFRESH_TIME_BUDGET_MS: "refreshTimeBudgetMs",
  TOKEN_ISSUE_WAIT_MS: "issueWaitMs",
  TOKEN_ISSUE_LEASE_MS: "issueLeaseMs",
  REFRESH_BACKOFF_BASE_SECONDS: "backoffBaseMs",
  REFRESH_BACKOFF_MAX_SECONDS: "backoffMaxMs",
};

export const DEFAULT_TOKEN_SETTINGS: TokenSettings = {
  refreshWindowMs: declared("REFRESH_WINDOW_HOURS"),
  safetyMarginMs: declared("TOKEN_SAFETY_MARGIN_SECONDS"),
  refreshConcurrency: declared("REFRESH_CONCURRENCY"),
  refreshTimeBudgetMs: declared("REFRESH_TIME_BUDGET_MS"),
  issueWaitMs: declared("TOKEN_ISSUE_WAIT_MS"),
  issueLeaseMs: declared("TOKEN_ISSUE_LEASE_MS"),
  // composeService sets it from BROKER_TIMEOUT_MS; this is the default timeout plus a second.
  issueCallBudgetMs: (SETTINGS.BROKER_TIMEOUT_MS.default as number) + 1000,
  backoffBaseMs: declared("REFRESH_BACKOFF_BASE_SECONDS"),
  backoffMaxMs: declared("REFRESH_BACKOFF_MAX_SECONDS"),
};

/** Reads the token settings from an environment object; a SettingError names the first bad one. */
export function parseTokenSettings(env: Record<string, string | undefined>): TokenSettings {
  const settings = { ...DEFAULT_TOKEN_SETTINGS };
  for (const [name, unitMs] of Object.entries(UNIT_MS) as [keyof typeof UNIT_MS, number][]) {
    if (!env[name]?.trim()) continue;
    settings[FIELDS[name]] = Math.round(readNumberSetting(env, name) * unitMs);
  }
  return settings;
}

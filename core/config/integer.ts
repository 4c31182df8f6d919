import { ValidationError } from "../errors";

/**
 * The one rule every whole-number setting and option follows: digits only,
 * from `min` to `max` (a safe integer by default). Undefined when `raw`
 * breaks it, so each caller words its own sentence (and error kind).
 */
export function wholeNumber(
  raw: string,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  const value = Number(raw);
  // Digits only make it whole; max (at most MAX_SAFE_INTEGER) keeps it exact.
  return /^\d+$/.test(raw) && value >= min && value <= max ? value : undefined;
}

/**
 * A whole-number setting of at least 1 from an environment object, or the
 * fallback when unset; one sentence naming the setting when it is wrong.
 * The deploy sets DB_POOL_MAX and REFRESH_MAX_WORKERS from the connection
 * budget (infra/connections.ts).
 */
export function positiveIntegerSetting(
  env: Record<string, string | undefined>,
  name: string,
  fallback: number,
): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === "") return fallback;
  const value = wholeNumber(raw, 1);
  if (value === undefined) {
    throw new ValidationError([
      { field: name, message: `must be a whole number of at least 1, got "${raw}"` },
    ]);
  }
  return value;
}

import { ValidationError } from "../errors";

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
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < 1) {
    throw new ValidationError([
      { field: name, message: `must be a whole number of at least 1, got "${raw}"` },
    ]);
  }
  return value;
}

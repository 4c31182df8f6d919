import { type NumberSettingSpec, readNumber, SETTINGS, type SettingSpec } from "./settings";

/**
 * The one rule of whole numbers: digits only, from `min` to `max` (a safe
 * integer by default). Undefined when `raw` breaks it. Settings go through
 * readNumberSetting (settings.ts), which words the one sentence; CLI
 * options (--workers, --batch-size) call this and word their own.
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
 * fallback when unset; a SettingError naming it when it is wrong (the one
 * wording of core/config/settings.ts). The deploy sets DB_POOL_MAX and
 * REFRESH_MAX_WORKERS from the connection budget (infra/connections.ts).
 */
export function positiveIntegerSetting(
  env: Record<string, string | undefined>,
  name: string,
  fallback: number,
): number {
  const declared = (SETTINGS as Record<string, SettingSpec>)[name];
  const spec: NumberSettingSpec =
    declared?.kind === "number"
      ? declared
      : {
          kind: "number",
          whole: true,
          default: fallback,
          min: 1,
          max: Number.MAX_SAFE_INTEGER,
          unit: "",
          readBy: ["service"],
          text: name,
        };
  return readNumber(env, name, spec, fallback);
}

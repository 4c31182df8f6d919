/**
 * How the declaration table (settings.ts and its areas) is written: who
 * reads a setting, and the two shapes most declarations take. Only the
 * table's files import it.
 */
import type { NumberSettingSpec, SettingReader, SettingUnit, TextSettingSpec } from "./spec";

export const service = ["service"] as const;
export const start = ["start"] as const;
export const deploy = ["deploy"] as const;
export const both = ["service", "deploy"] as const;

/** A whole-number setting; `defaultText` for the docs when the default is not one number. */
export function whole<D extends number | undefined>(
  unit: SettingUnit,
  fallback: D,
  min: number,
  max: number,
  readBy: readonly SettingReader[],
  text: string,
  defaultText?: string,
): NumberSettingSpec & { default: D } {
  return {
    kind: "number",
    whole: true,
    default: fallback,
    min,
    max,
    unit,
    readBy,
    text,
    ...(defaultText ? { defaultText } : {}),
  };
}

/** A text setting: what applies when it is unset, the values it takes, what it does. */
export function text(
  readBy: readonly SettingReader[],
  defaultText: string,
  rule: string,
  line: string,
): TextSettingSpec {
  return { kind: "text", readBy, defaultText, rule, text: line };
}

/**
 * The shape of a setting's declaration, its one error and its one reading
 * rule (core/config/settings.ts holds the declarations). Imports nothing but
 * the errors.
 */
import { ValidationError } from "../errors";

/** Who reads a setting: the service (functions and npm start), npm start only, or `sst deploy`. */
export type SettingReader = "service" | "start" | "deploy";

export type SettingUnit =
  | "milliseconds"
  | "seconds"
  | "hours"
  | "days"
  | "MB"
  | "GB"
  | "calls per second"
  | "";

interface SettingBase {
  /** One line: what it does. */
  text: string;
  readBy: readonly SettingReader[];
}

export interface NumberSettingSpec extends SettingBase {
  kind: "number";
  /** Digits only, or any decimal within the bounds. */
  whole: boolean;
  /** Undefined when the default is derived (defaultText says how). */
  default: number | undefined;
  min: number;
  max: number;
  unit: SettingUnit;
  /** For the docs when the default is not one number. */
  defaultText?: string;
}

export interface TextSettingSpec extends SettingBase {
  kind: "text";
  /** What applies when it is unset. */
  defaultText: string;
  /** The values it takes, for the docs. */
  rule: string;
}

export type SettingSpec = NumberSettingSpec | TextSettingSpec;

/** No upper bound. */
export const NO_MAX = Number.MAX_SAFE_INTEGER;

/** A setting whose value breaks its rule. The message is one sentence naming it. */
export class SettingError extends ValidationError {
  constructor(
    readonly setting: string,
    rule: string,
    raw: string,
  ) {
    const shown = raw.length > 20 ? `${raw.slice(0, 20)}…` : raw;
    super(
      [{ field: setting, message: `must be ${rule}, got "${shown}"` }],
      `${setting} must be ${rule}, got "${shown}".`,
    );
  }
}

/** "a whole number of seconds from 0 to 3600", "a number of hours from 0.1 to 23", "…, at least 1". */
export function numberRule(
  spec: Pick<NumberSettingSpec, "whole" | "unit" | "min" | "max">,
): string {
  const what = `${spec.whole ? "a whole number" : "a number"}${spec.unit ? ` of ${spec.unit}` : ""}`;
  return spec.max >= NO_MAX
    ? `${what}, at least ${spec.min}`
    : `${what} from ${spec.min} to ${spec.max}`;
}

/** Digits only (a safe integer), or a plain decimal; within the bounds. */
function parseNumber(raw: string, spec: NumberSettingSpec): number | undefined {
  const pattern = spec.whole ? /^\d+$/ : /^\d+(\.\d+)?$/;
  const value = Number(raw);
  return pattern.test(raw) && value >= spec.min && value <= spec.max && value <= NO_MAX
    ? value
    : undefined;
}

/** The same for a setting declared elsewhere in this shape (per-broker settings). */
export function readNumber(
  env: Record<string, string | undefined>,
  name: string,
  spec: NumberSettingSpec,
  fallback = spec.default,
): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === "") {
    if (fallback === undefined) throw new SettingError(name, numberRule(spec), "");
    return fallback;
  }
  const value = parseNumber(raw, spec);
  if (value === undefined) throw new SettingError(name, numberRule(spec), raw);
  return value;
}

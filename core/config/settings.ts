/**
 * Every setting of the service, `npm start` and the deploy, declared once:
 * name, default, bounds, unit and one line saying what it does. The
 * service's parsers (core/*\/settings.ts), dev/start-settings.ts and
 * infra/settings.ts read numbers through readNumberSetting, so a setting has
 * one rule, one error type (SettingError) and one wording wherever it is
 * read; docs/operations.md's configuration table is generated from here
 * (`npm run settings-doc`). A leaf: the declaration's shape, its error and
 * its reading rule are in spec.ts, which imports only core/errors.
 *
 * Per-broker settings (KIS_REAL_URL, KIWOOM_MIN_ISSUE_INTERVAL_MS, …) are
 * declared by core/brokers/settings.ts from each adapter, in this same shape.
 */
import { DEPLOY_SETTINGS } from "./deploy-settings";
import { PROCESS_SETTINGS } from "./process-settings";
import { SERVICE_SETTINGS } from "./service-settings";
import { type NumberSettingSpec, readNumber, type SettingSpec } from "./spec";

export {
  type NumberSettingSpec,
  numberRule,
  readNumber,
  SettingError,
  type SettingReader,
  type SettingSpec,
  type SettingUnit,
  type TextSettingSpec,
} from "./spec";

/**
 * The settings with a fixed name, in the order the docs list them (the
 * deploy's own, which the docs leave out, last). Declared by area in
 * process-settings.ts, service-settings.ts and deploy-settings.ts.
 */
export const SETTINGS = {
  ...PROCESS_SETTINGS,
  ...SERVICE_SETTINGS,
  ...DEPLOY_SETTINGS,
} as const satisfies Record<string, SettingSpec>;

export type SettingName = keyof typeof SETTINGS;
export type NumberSettingName = {
  [K in SettingName]: (typeof SETTINGS)[K] extends NumberSettingSpec ? K : never;
}[SettingName];

/**
 * Reads one number setting by its declaration: the default when unset or
 * blank, else the value within its bounds, else a SettingError. `fallback`
 * supplies a derived default (DB_POOL_MAX).
 */
export function readNumberSetting(
  env: Record<string, string | undefined>,
  name: NumberSettingName,
  options: { fallback?: number } = {},
): number {
  return readNumber(env, name, SETTINGS[name], options.fallback);
}

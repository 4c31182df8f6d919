/**
 * The settings leaf: every setting's declaration and the one way numbers are
 * read (settings.ts, integer.ts). It imports no AWS SDK: the database URL's
 * resolution with Secrets Manager and the RDS signer is core/database-url.
 */
export { positiveIntegerSetting, wholeNumber } from "./integer";
export {
  type NumberSettingName,
  type NumberSettingSpec,
  numberRule,
  readNumber,
  readNumberSetting,
  SETTINGS,
  SettingError,
  type SettingName,
  type SettingReader,
  type SettingSpec,
  type SettingUnit,
  type TextSettingSpec,
} from "./settings";

export type { DatabaseConnection } from "../db";
export {
  type AuthTokenSigner,
  DatabaseSettingsError,
  type ResolveDatabaseUrlOptions,
  resolveDatabaseConnection,
  resolveDatabaseTls,
  resolveDatabaseUrl,
} from "./database-url";
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

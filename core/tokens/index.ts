export { TokenIssuanceDeferredError, TokenNotRenewedError } from "./errors";
export {
  type RefreshDependencies,
  type RefreshSummary,
  refreshDueTokens,
  UNREFRESHED_ALARM_HORIZON_MS,
} from "./refresh";
export {
  createTokenService,
  type IssueOutcome,
  type TokenService,
  type TokenServiceDependencies,
  type ValidToken,
} from "./service";
export { DEFAULT_TOKEN_SETTINGS, parseTokenSettings, type TokenSettings } from "./settings";
export {
  type AccountTokenStatus,
  type TokenState,
  type TokenStatusReport,
  tokenStatus,
} from "./status";
export { credentialKey } from "./store";

export { TokenIssuanceDeferredError, TokenNotRenewedError } from "./errors";
export {
  type FanOutPlan,
  runScheduledRefresh,
  type ScheduledRefreshSummary,
  type StartRefreshWorker,
} from "./fan-out";
export {
  countDueAccounts,
  type RefreshDependencies,
  type RefreshOptions,
  type RefreshSummary,
  refreshDueTokens,
  UNREFRESHED_ALARM_HORIZON_MS,
} from "./refresh";
export {
  accountsPerWorker,
  MAX_REFRESH_WORKERS,
  parseRefreshWorker,
  type RefreshWorker,
  refreshWorkersNeeded,
  workerOrder,
} from "./refresh-plan";
export {
  createTokenService,
  type IssueOutcome,
  type TokenRequestOptions,
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
export { credentialKey, type StoredToken } from "./store";

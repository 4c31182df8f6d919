export type { ApprovalKeyOutcome, ValidApprovalKey } from "./approval";
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
  refreshDueTokens,
} from "./refresh";
export {
  accountsPerWorker,
  MAX_REFRESH_WORKERS,
  parseRefreshWorker,
  type RefreshWorker,
  refreshWorkersNeeded,
  workerOrder,
} from "./refresh-plan";
export { type RefreshSummary, UNREFRESHED_ALARM_HORIZON_MS } from "./refresh-summary";
export {
  createTokenService,
  type TokenRequestOptions,
  type TokenService,
  type TokenServiceDependencies,
} from "./service";
export type { IssueOutcome, ValidToken } from "./service-context";
export { DEFAULT_TOKEN_SETTINGS, parseTokenSettings, type TokenSettings } from "./settings";
export type { RevokeResult } from "./sharing";
export {
  type AccountTokenStatus,
  type TokenState,
  type TokenStatusReport,
  tokenStatus,
} from "./status";
export { credentialKey, type StoredToken } from "./store";

/**
 * What the alarms watch, as plain values. The refresh job logs one JSON
 * summary line per run; a CloudWatch Logs metric filter turns its
 * `tokens_expiring_unrefreshed` field into a metric.
 */
import { API_KEYS_STALE_EVENT } from "../core/auth/store";
import { scheduleIntervalSeconds } from "./settings";

/** The field the refresh job's summary line must carry (a count, 0 when all is well). */
export const EXPIRING_UNREFRESHED_FIELD = "tokens_expiring_unrefreshed";

export function metricNamespace(stage: string): string {
  return `SecuritiesSupport/${stage}`;
}

export const TOKENS_EXPIRING_UNREFRESHED_METRIC = "TokensExpiringUnrefreshed";

/** Matches every summary line (the count is never negative) and publishes the count. */
export function expiringUnrefreshedFilter(stage: string) {
  return {
    pattern: `{ $.${EXPIRING_UNREFRESHED_FIELD} >= 0 }`,
    metricName: TOKENS_EXPIRING_UNREFRESHED_METRIC,
    namespace: metricNamespace(stage),
    value: `$.${EXPIRING_UNREFRESHED_FIELD}`,
  };
}

export const API_KEYS_STALE_METRIC = "ApiKeysStale";

/**
 * Counts the API's `api_keys_stale` lines: its key store has not loaded for
 * twice the cache time and every request is being refused (fail closed).
 */
export function apiKeysStaleFilter(stage: string) {
  return {
    pattern: `{ $.event = "${API_KEYS_STALE_EVENT}" }`,
    metricName: API_KEYS_STALE_METRIC,
    namespace: metricNamespace(stage),
    value: "1",
  };
}

/**
 * The alarm period: two scheduled runs (one late or failed run is tolerated),
 * rounded up to whole minutes as CloudWatch requires; one hour for cron
 * schedules, whose spacing is not parsed. A period with no summary line at
 * all breaches, since then nobody is refreshing.
 */
export function alarmPeriodSeconds(schedule: string): number {
  const interval = scheduleIntervalSeconds(schedule);
  if (interval === undefined) return 3600;
  return Math.min(86_400, Math.ceil((2 * interval) / 60) * 60);
}

export interface AlarmRule {
  name: string;
  description: string;
  comparison: "GreaterThanOrEqualToThreshold";
  threshold: number;
  statistic: "Sum" | "Maximum";
  treatMissingData: "breaching" | "notBreaching";
}

/** The alarms, one line each of what they mean. */
export const ALARM_RULES = {
  refreshErrors: {
    name: "RefreshErrors",
    description: "The refresh function threw or timed out.",
    comparison: "GreaterThanOrEqualToThreshold",
    threshold: 1,
    statistic: "Sum",
    treatMissingData: "notBreaching",
  },
  refreshDeadLetters: {
    name: "RefreshDeadLetters",
    description: "A refresh run failed after every retry and sits in the dead-letter queue.",
    comparison: "GreaterThanOrEqualToThreshold",
    threshold: 1,
    statistic: "Maximum",
    treatMissingData: "notBreaching",
  },
  tokensExpiringUnrefreshed: {
    name: "TokensExpiringUnrefreshed",
    description:
      "Tokens inside the refresh window were not refreshed by the last runs, or no run reported at all.",
    comparison: "GreaterThanOrEqualToThreshold",
    threshold: 1,
    statistic: "Maximum",
    treatMissingData: "breaching",
  },
  apiKeysStale: {
    name: "ApiKeysStale",
    description:
      "The API could not load its keys for twice their cache time and refuses every request (503) until the secret loads again.",
    comparison: "GreaterThanOrEqualToThreshold",
    threshold: 1,
    statistic: "Sum",
    treatMissingData: "notBreaching",
  },
} as const satisfies Record<string, AlarmRule>;

/**
 * What the alarms watch and when they fire, as plain values (infra/alarms.ts
 * only turns them into CloudWatch resources). Each alarm's description ends
 * with its runbook entry in docs/operations.md; a unit test checks that every
 * entry exists.
 */
import { API_KEYS_STALE_EVENT } from "../core/auth/store";
import { BROKER_ADAPTERS } from "../core/brokers/adapters";
import { METRIC, metricNamespace } from "../core/metrics";
import type { InfraSettings } from "./settings";
import { scheduleIntervalSeconds } from "./settings";

export { metricNamespace };

/** The field the refresh job's summary line carries (a count, 0 when all is well). */
export const EXPIRING_UNREFRESHED_FIELD = "tokens_expiring_unrefreshed";

export const TOKENS_EXPIRING_UNREFRESHED_METRIC = METRIC.tokensExpiringUnrefreshed;

export const API_KEYS_STALE_METRIC = "ApiKeysStale";

/** Where the runbook lives; each alarm names an anchor in it. */
export const RUNBOOK = "docs/operations.md";

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
 * The period of the refresh alarms: two scheduled runs (one late or failed run
 * is tolerated), rounded up to whole minutes as CloudWatch requires; one hour
 * for cron schedules, whose spacing is not parsed. A period with no summary at
 * all breaches, since then nobody is refreshing.
 */
export function alarmPeriodSeconds(schedule: string): number {
  const interval = scheduleIntervalSeconds(schedule);
  if (interval === undefined) return 3600;
  return Math.min(86_400, Math.ceil((2 * interval) / 60) * 60);
}

export interface AlarmRule {
  name: string;
  /** What it means, in one sentence. */
  description: string;
  /** The heading's anchor in docs/operations.md that says what to do. */
  runbook: string;
  comparison: "GreaterThanOrEqualToThreshold" | "GreaterThanThreshold" | "LessThanThreshold";
  threshold: number;
  statistic: "Sum" | "Maximum" | "Average" | "Minimum" | "p99";
  treatMissingData: "breaching" | "notBreaching";
}

/** The alarm's description as CloudWatch shows it (at most 1024 characters): meaning, then runbook. */
export function alarmDescription(rule: Pick<AlarmRule, "description" | "runbook">): string {
  return `${rule.description} Runbook: ${RUNBOOK}#${rule.runbook}`;
}

/** The alarms of the refresh job and the API keys, kept by name for the tests that read them. */
export const ALARM_RULES = {
  refreshErrors: {
    name: "RefreshErrors",
    description: "The refresh function threw or timed out.",
    runbook: "refresherrors",
    comparison: "GreaterThanOrEqualToThreshold",
    threshold: 1,
    statistic: "Sum",
    treatMissingData: "notBreaching",
  },
  refreshDeadLetters: {
    name: "RefreshDeadLetters",
    description: "A refresh run failed after every retry and sits in the dead-letter queue.",
    runbook: "refreshdeadletters",
    comparison: "GreaterThanOrEqualToThreshold",
    threshold: 1,
    statistic: "Maximum",
    treatMissingData: "notBreaching",
  },
  tokensExpiringUnrefreshed: {
    name: "TokensExpiringUnrefreshed",
    description:
      "Tokens inside the refresh window were not refreshed by the last runs, or no run reported at all.",
    runbook: "tokensexpiringunrefreshed",
    comparison: "GreaterThanOrEqualToThreshold",
    threshold: 1,
    statistic: "Maximum",
    treatMissingData: "breaching",
  },
  apiKeysStale: {
    name: "ApiKeysStale",
    description:
      "The API could not load its keys for twice their cache time and refuses every request (503) until the secret loads again.",
    runbook: "apikeysstale",
    comparison: "GreaterThanOrEqualToThreshold",
    threshold: 1,
    statistic: "Sum",
    treatMissingData: "notBreaching",
  },
} as const satisfies Record<string, AlarmRule>;

/** The deployed resources an alarm's metric names; infra/alarms.ts resolves each to its id. */
export type ResourceRef =
  | "apiFunctionName"
  | "refreshFunctionName"
  | "migrateFunctionName"
  | "apiId"
  | "databaseInstanceId"
  | "refreshDeadLettersName";

export interface WatchedMetric {
  namespace: string;
  metricName: string;
  /** Each dimension's value: a deployed resource, or a literal. */
  dimensions?: Record<string, ResourceRef | { value: string }>;
}

export interface AlarmPlan extends AlarmRule {
  periodSeconds: number;
  evaluationPeriods: number;
  /** How many of the evaluated periods must breach. */
  datapointsToAlarm: number;
  /** One metric, or an expression over several (`id` → metric, with `statistic`). */
  watch:
    | { metric: WatchedMetric }
    | { expression: string; label: string; metrics: Record<string, WatchedMetric> };
  /** A log metric filter this alarm's metric comes from, if any. */
  logFilter?: "apiKeysStale";
}

const FUNCTIONS = {
  Api: "apiFunctionName",
  Refresh: "refreshFunctionName",
  Migrate: "migrateFunctionName",
} as const satisfies Record<string, ResourceRef>;

/** The API's 5xx share above which the alarm fires, in percent of requests, over 5 minutes twice. */
export const API_5XX_RATE_PERCENT = 5;
/** The API's p99 latency above which the alarm fires (API Gateway gives up at 30 s). */
export const API_P99_LATENCY_MS = 5000;
/** An order whose outcome is still unknown this long after its send calls for a look. */
export const ORDER_UNKNOWN_ALARM_SECONDS = 300;
/** Gateway answers of "too many calls" per broker in 5 minutes that call for a look. */
export const GATEWAY_RATE_LIMITED_PER_5_MIN = 10;

/** Every alarm of a deployment: its rule, what it watches and over which periods. */
export function alarmPlans(settings: InfraSettings): AlarmPlan[] {
  const custom = metricNamespace(settings.stage);
  const refreshPeriod = alarmPeriodSeconds(settings.refresh.schedule);
  const fiveMinutes = { periodSeconds: 300, evaluationPeriods: 1, datapointsToAlarm: 1 };
  const plans: AlarmPlan[] = [
    {
      ...ALARM_RULES.refreshDeadLetters,
      ...fiveMinutes,
      watch: {
        metric: {
          namespace: "AWS/SQS",
          metricName: "ApproximateNumberOfMessagesVisible",
          dimensions: { QueueName: "refreshDeadLettersName" },
        },
      },
    },
    {
      ...ALARM_RULES.tokensExpiringUnrefreshed,
      periodSeconds: refreshPeriod,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      watch: { metric: { namespace: custom, metricName: METRIC.tokensExpiringUnrefreshed } },
    },
    {
      ...ALARM_RULES.apiKeysStale,
      ...fiveMinutes,
      watch: { metric: { namespace: custom, metricName: API_KEYS_STALE_METRIC } },
      logFilter: "apiKeysStale",
    },
    {
      name: "Api5xxRate",
      description: `More than ${API_5XX_RATE_PERCENT}% of API requests answered 5xx for 10 minutes.`,
      runbook: "api5xxrate",
      comparison: "GreaterThanThreshold",
      threshold: API_5XX_RATE_PERCENT,
      statistic: "Sum",
      treatMissingData: "notBreaching",
      periodSeconds: 300,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      watch: {
        expression: "IF(requests > 0, 100 * errors / requests, 0)",
        label: "5xx share of requests (%)",
        metrics: {
          errors: {
            namespace: "AWS/ApiGateway",
            metricName: "5xx",
            dimensions: { ApiId: "apiId" },
          },
          requests: {
            namespace: "AWS/ApiGateway",
            metricName: "Count",
            dimensions: { ApiId: "apiId" },
          },
        },
      },
    },
    {
      name: "ApiLatencyP99",
      description: `The API's p99 latency was over ${API_P99_LATENCY_MS} ms for 15 minutes.`,
      runbook: "apilatencyp99",
      comparison: "GreaterThanThreshold",
      threshold: API_P99_LATENCY_MS,
      statistic: "p99",
      treatMissingData: "notBreaching",
      periodSeconds: 300,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      watch: {
        metric: {
          namespace: "AWS/ApiGateway",
          metricName: "Latency",
          dimensions: { ApiId: "apiId" },
        },
      },
    },
  ];

  // One alarm on a Lambda metric of one function: any error, or any throttle, in five minutes.
  const lambdaAlarm = (
    label: string,
    ref: ResourceRef,
    metricName: "Errors" | "Throttles",
    runbook: string,
    description: string,
  ): AlarmPlan => ({
    name: `${label}${metricName}`,
    description,
    runbook,
    comparison: "GreaterThanOrEqualToThreshold",
    threshold: 1,
    statistic: "Sum",
    treatMissingData: "notBreaching",
    ...fiveMinutes,
    watch: { metric: { namespace: "AWS/Lambda", metricName, dimensions: { FunctionName: ref } } },
  });
  for (const [label, ref] of Object.entries(FUNCTIONS)) {
    const name = label.toLowerCase();
    const errors = lambdaAlarm(
      label,
      ref,
      "Errors",
      "lambda-errors",
      `The ${name} function threw, crashed or timed out.`,
    );
    // The refresh function's errors keep their name and period: one failed run of two.
    plans.push(
      label === "Refresh"
        ? { ...errors, ...ALARM_RULES.refreshErrors, periodSeconds: refreshPeriod }
        : errors,
    );
    plans.push(
      lambdaAlarm(
        label,
        ref,
        "Throttles",
        "lambda-throttles",
        `Lambda refused to run the ${name} function (concurrency exhausted).`,
      ),
    );
  }

  plans.push({
    name: "MigrateFailed",
    description:
      "A migrate invocation reported ok: false (bad event, backup, lock or SQL failure).",
    runbook: "migratefailed",
    comparison: "GreaterThanOrEqualToThreshold",
    threshold: 1,
    statistic: "Sum",
    treatMissingData: "notBreaching",
    ...fiveMinutes,
    watch: {
      metric: {
        namespace: custom,
        metricName: METRIC.migrations,
        dimensions: { Outcome: { value: "failed" } },
      },
    },
  });

  const database = { DBInstanceIdentifier: "databaseInstanceId" } as const;
  // The parameter group sets max_connections to this; the functions' budget fits under it (infra/connections.ts).
  const { maxConnections } = settings.database;
  plans.push(
    {
      name: "DatabaseFreeStorageLow",
      description: `The database has under 10% of its ${settings.database.maxStorageGb} GB storage ceiling free.`,
      runbook: "databasefreestoragelow",
      comparison: "LessThanThreshold",
      threshold: Math.round(settings.database.maxStorageGb * 0.1 * 1024 ** 3),
      statistic: "Minimum",
      treatMissingData: "notBreaching",
      ...fiveMinutes,
      watch: {
        metric: { namespace: "AWS/RDS", metricName: "FreeStorageSpace", dimensions: database },
      },
    },
    {
      name: "DatabaseCpuHigh",
      description: "The database's CPU was over 80% for 15 minutes.",
      runbook: "databasecpuhigh",
      comparison: "GreaterThanThreshold",
      threshold: 80,
      statistic: "Average",
      treatMissingData: "notBreaching",
      periodSeconds: 300,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      watch: {
        metric: { namespace: "AWS/RDS", metricName: "CPUUtilization", dimensions: database },
      },
    },
    {
      name: "DatabaseConnectionsHigh",
      description: `The database held over 80% of its ${maxConnections} connections (max_connections) for 10 minutes.`,
      runbook: "databaseconnectionshigh",
      comparison: "GreaterThanThreshold",
      threshold: Math.floor(maxConnections * 0.8),
      statistic: "Maximum",
      treatMissingData: "notBreaching",
      periodSeconds: 300,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      watch: {
        metric: { namespace: "AWS/RDS", metricName: "DatabaseConnections", dimensions: database },
      },
    },
  );

  // Orders (issue 18): reported by every scheduled refresh run after it reconciles.
  plans.push(
    {
      name: "OrdersAmbiguous",
      description:
        "An order's outcome is ambiguous: more than one of the broker's day orders matched it, and the service will not guess.",
      runbook: "ordersambiguous",
      comparison: "GreaterThanOrEqualToThreshold",
      threshold: 1,
      statistic: "Maximum",
      treatMissingData: "notBreaching",
      periodSeconds: refreshPeriod,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      watch: { metric: { namespace: custom, metricName: METRIC.ordersAmbiguous } },
    },
    {
      name: "OrdersUnknownStale",
      description: `An order's outcome has been unknown for over ${ORDER_UNKNOWN_ALARM_SECONDS / 60} minutes: reconciliation could not read the broker's day orders, or the order's terms.`,
      runbook: "ordersunknownstale",
      comparison: "GreaterThanOrEqualToThreshold",
      threshold: ORDER_UNKNOWN_ALARM_SECONDS,
      statistic: "Maximum",
      treatMissingData: "notBreaching",
      periodSeconds: refreshPeriod,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      watch: { metric: { namespace: custom, metricName: METRIC.ordersUnknownOldestAge } },
    },
  );

  for (const { broker, alarmName } of Object.values(BROKER_ADAPTERS)) {
    plans.push({
      name: `Gateway${alarmName}RateLimited`,
      description: `${broker} answered "too many calls" to at least ${GATEWAY_RATE_LIMITED_PER_5_MIN} gateway calls in 5 minutes.`,
      runbook: "gatewayratelimited",
      comparison: "GreaterThanOrEqualToThreshold",
      threshold: GATEWAY_RATE_LIMITED_PER_5_MIN,
      statistic: "Sum",
      treatMissingData: "notBreaching",
      ...fiveMinutes,
      watch: {
        metric: {
          namespace: custom,
          metricName: METRIC.gatewayRateLimited,
          dimensions: { Broker: { value: broker } },
        },
      },
    });
  }
  // The realtime hub (its task writes these every minute, infra/hub.ts).
  const minute = { periodSeconds: 60, evaluationPeriods: 2, datapointsToAlarm: 2 };
  plans.push(
    {
      name: "HubSessionDown",
      description: "A broker websocket session the hub holds was not up for more than a minute.",
      runbook: "hubsessiondown",
      comparison: "GreaterThanOrEqualToThreshold",
      threshold: 1,
      statistic: "Minimum",
      treatMissingData: "notBreaching",
      ...minute,
      watch: { metric: { namespace: custom, metricName: METRIC.hubSessionsDown } },
    },
    {
      name: "HubSessionKicked",
      description:
        "Another session took or holds an app key's websocket (KIS OPSP8996, Kiwoom R10001): someone else connects with the key.",
      runbook: "hubsessionkicked",
      comparison: "GreaterThanOrEqualToThreshold",
      threshold: 1,
      statistic: "Sum",
      treatMissingData: "notBreaching",
      ...fiveMinutes,
      watch: { metric: { namespace: custom, metricName: METRIC.hubSessionConflicts } },
    },
    {
      name: "HubCapReached",
      description:
        "A KIS session's 41 registrations were all in use and a subscription was refused.",
      runbook: "hubcapreached",
      comparison: "GreaterThanOrEqualToThreshold",
      threshold: 1,
      statistic: "Sum",
      treatMissingData: "notBreaching",
      ...fiveMinutes,
      watch: { metric: { namespace: custom, metricName: METRIC.hubCapRefusals } },
    },
    {
      name: "HubCatchUpFailing",
      description:
        "The hub could not read the day orders it checks fills against, again and again: fills sent while a session was down are not told to clients yet.",
      runbook: "hubcatchupfailing",
      comparison: "GreaterThanOrEqualToThreshold",
      // Retries back off from 1 s to a minute: 3 in five minutes is a failure that persists.
      threshold: 3,
      statistic: "Sum",
      treatMissingData: "notBreaching",
      ...fiveMinutes,
      watch: { metric: { namespace: custom, metricName: METRIC.hubCatchUpFailures } },
    },
  );

  return plans;
}

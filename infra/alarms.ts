/**
 * The alarms of infra/alarm-rules.ts as CloudWatch alarms on an SNS topic
 * (ALARM_EMAIL subscribes to it). Each description ends with its runbook
 * entry in docs/operations.md.
 */
import {
  type AlarmPlan,
  alarmDescription,
  alarmPlans,
  apiKeysStaleFilter,
  type ResourceRef,
  type WatchedMetric,
} from "./alarm-rules";
import { database } from "./database";
import {
  api,
  apiFunction,
  migrateFunction,
  refreshDeadLetters,
  refreshFunction,
} from "./functions";
import { settings } from "./stage";

export const alarmTopic = new aws.sns.Topic("Alarms");
if (settings.alarmEmail) {
  new aws.sns.TopicSubscription("AlarmsEmail", {
    topic: alarmTopic.arn,
    protocol: "email",
    endpoint: settings.alarmEmail,
  });
}

const resources: Record<ResourceRef, $util.Input<string>> = {
  apiFunctionName: apiFunction.name,
  refreshFunctionName: refreshFunction.name,
  migrateFunctionName: migrateFunction.name,
  apiId: api.nodes.api.id,
  databaseInstanceId: database.identifier,
  refreshDeadLettersName: refreshDeadLetters.name,
};

function dimensions(metric: WatchedMetric) {
  if (!metric.dimensions) return undefined;
  return Object.fromEntries(
    Object.entries(metric.dimensions).map(([name, value]) => [
      name,
      typeof value === "string" ? resources[value] : value.value,
    ]),
  );
}

const percentile = (statistic: AlarmPlan["statistic"]) =>
  statistic === "p99" ? { extendedStatistic: "p99" } : { statistic };

/** Log lines that become a metric: the API's fail-closed key store. */
const staleKeys = apiKeysStaleFilter(settings.stage);
const logFilters = {
  apiKeysStale: new aws.cloudwatch.LogMetricFilter("ApiKeysStaleFilter", {
    logGroupName: apiFunction.nodes.logGroup.apply((group) => {
      if (!group) throw new Error("The API function has no log group to watch.");
      return group.name;
    }),
    pattern: staleKeys.pattern,
    metricTransformation: {
      namespace: staleKeys.namespace,
      name: staleKeys.metricName,
      value: staleKeys.value,
    },
  }),
};

for (const plan of alarmPlans(settings)) {
  const watch =
    "metric" in plan.watch
      ? {
          namespace: plan.watch.metric.namespace,
          metricName: plan.watch.metric.metricName,
          dimensions: dimensions(plan.watch.metric),
          period: plan.periodSeconds,
          ...percentile(plan.statistic),
        }
      : {
          metricQueries: [
            {
              id: "result",
              expression: plan.watch.expression,
              label: plan.watch.label,
              returnData: true,
            },
            ...Object.entries(plan.watch.metrics).map(([id, metric]) => ({
              id,
              returnData: false,
              metric: {
                namespace: metric.namespace,
                metricName: metric.metricName,
                dimensions: dimensions(metric),
                period: plan.periodSeconds,
                stat: plan.statistic,
              },
            })),
          ],
        };
  new aws.cloudwatch.MetricAlarm(
    plan.name,
    {
      alarmDescription: alarmDescription(plan),
      ...watch,
      comparisonOperator: plan.comparison,
      threshold: plan.threshold,
      evaluationPeriods: plan.evaluationPeriods,
      datapointsToAlarm: plan.datapointsToAlarm,
      treatMissingData: plan.treatMissingData,
      alarmActions: [alarmTopic.arn],
      okActions: [alarmTopic.arn],
    },
    plan.logFilter ? { dependsOn: [logFilters[plan.logFilter]] } : {},
  );
}

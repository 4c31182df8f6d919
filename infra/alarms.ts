/**
 * Alarms on what needs a human: refresh runs that fail, runs parked in the
 * dead-letter queue, and tokens about to expire unrefreshed (or no run
 * reporting at all). They notify an SNS topic; ALARM_EMAIL subscribes to it.
 */
import {
  ALARM_RULES,
  type AlarmRule,
  alarmPeriodSeconds,
  apiKeysStaleFilter,
  expiringUnrefreshedFilter,
} from "./alarm-rules";
import { apiFunction, refreshDeadLetters, refreshFunction } from "./functions";
import { settings } from "./stage";

export const alarmTopic = new aws.sns.Topic("Alarms");
if (settings.alarmEmail) {
  new aws.sns.TopicSubscription("AlarmsEmail", {
    topic: alarmTopic.arn,
    protocol: "email",
    endpoint: settings.alarmEmail,
  });
}

const period = alarmPeriodSeconds(settings.refresh.schedule);

function alarm(
  rule: AlarmRule,
  metric: {
    namespace: string;
    metricName: string;
    dimensions?: Record<string, $util.Input<string>>;
  },
  dependsOn: $util.Resource[] = [],
) {
  return new aws.cloudwatch.MetricAlarm(
    rule.name,
    {
      alarmDescription: rule.description,
      namespace: metric.namespace,
      metricName: metric.metricName,
      dimensions: metric.dimensions,
      statistic: rule.statistic,
      comparisonOperator: rule.comparison,
      threshold: rule.threshold,
      period,
      evaluationPeriods: 1,
      treatMissingData: rule.treatMissingData,
      alarmActions: [alarmTopic.arn],
      okActions: [alarmTopic.arn],
    },
    { dependsOn },
  );
}

alarm(ALARM_RULES.refreshErrors, {
  namespace: "AWS/Lambda",
  metricName: "Errors",
  dimensions: { FunctionName: refreshFunction.name },
});

alarm(ALARM_RULES.refreshDeadLetters, {
  namespace: "AWS/SQS",
  metricName: "ApproximateNumberOfMessagesVisible",
  dimensions: { QueueName: refreshDeadLetters.name },
});

const filter = expiringUnrefreshedFilter(settings.stage);
const metricFilter = new aws.cloudwatch.LogMetricFilter("TokensExpiringUnrefreshedFilter", {
  logGroupName: refreshFunction.nodes.logGroup.apply((group) => {
    if (!group) throw new Error("The refresh function has no log group to watch.");
    return group.name;
  }),
  pattern: filter.pattern,
  metricTransformation: {
    namespace: filter.namespace,
    name: filter.metricName,
    value: filter.value,
  },
});

alarm(
  ALARM_RULES.tokensExpiringUnrefreshed,
  { namespace: filter.namespace, metricName: filter.metricName },
  [metricFilter],
);

const staleKeys = apiKeysStaleFilter(settings.stage);
const staleKeysFilter = new aws.cloudwatch.LogMetricFilter("ApiKeysStaleFilter", {
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
});

alarm(
  ALARM_RULES.apiKeysStale,
  { namespace: staleKeys.namespace, metricName: staleKeys.metricName },
  [staleKeysFilter],
);

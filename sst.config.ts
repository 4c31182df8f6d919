/// <reference path="./.sst/platform/config.d.ts" />

/**
 * securities-support on AWS. Only the app, the imports of infra/ (one file per
 * concern) and the outputs live here; every setting is in infra/settings.ts.
 */
export default $config({
  async app(input) {
    const { parseInfraSettings } = await import("./infra/settings");
    const settings = parseInfraSettings(input?.stage ?? "dev", process.env);
    return {
      name: "securities-support",
      home: "aws",
      removal: settings.production ? "retain" : "remove",
      protect: settings.production,
      providers: { aws: { region: settings.region as aws.Region } },
    };
  },
  async run() {
    const { egressIp } = await import("./infra/network");
    const { database } = await import("./infra/database");
    const { apiKeysSecret, masterKeyArn } = await import("./infra/keys");
    const { api, migrateFunction, refreshDeadLetters, refreshFunction } = await import(
      "./infra/functions"
    );
    const { hubService } = await import("./infra/hub");
    const { alarmTopic } = await import("./infra/alarms");
    const { dashboard } = await import("./infra/dashboard");

    return {
      apiUrl: api.url,
      migrateFunctionName: migrateFunction.name,
      refreshFunctionName: refreshFunction.name,
      egressIp,
      databaseInstanceId: database.identifier,
      kmsKeyArn: masterKeyArn,
      apiKeysSecretArn: apiKeysSecret.arn,
      refreshDeadLetterQueueUrl: refreshDeadLetters.url,
      alarmTopicArn: alarmTopic.arn,
      dashboardName: dashboard.dashboardName,
      hubUrl: hubService.url,
    };
  },
});

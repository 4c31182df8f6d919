/** The operators' CloudWatch dashboard; its layout is infra/dashboard-layout.ts. */
import { dashboardBody } from "./dashboard-layout";
import { database } from "./database";
import { api, apiFunction, migrateFunction, refreshFunction } from "./functions";
import { settings } from "./stage";

export const dashboard = new aws.cloudwatch.Dashboard("Dashboard", {
  dashboardName: `securities-support-${settings.stage}`,
  dashboardBody: $resolve([
    api.nodes.api.id,
    apiFunction.name,
    refreshFunction.name,
    migrateFunction.name,
    database.identifier,
  ]).apply(([apiId, apiName, refreshName, migrateName, databaseInstanceId]) =>
    JSON.stringify(
      dashboardBody({
        region: settings.region,
        stage: settings.stage,
        apiId,
        functionNames: { api: apiName, refresh: refreshName, migrate: migrateName },
        databaseInstanceId,
      }),
    ),
  ),
});

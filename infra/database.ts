/**
 * Postgres on RDS, engine major 15 like the embedded Postgres the tests use.
 * RDS manages the master password in Secrets Manager (and rotates it), so no
 * password ever passes through this code, the state file or an env var.
 * RDS Proxy in front of it for the API (transaction pooling): end-to-end IAM
 * authentication, so the runtime role has no password here either, and TLS
 * required on both sides.
 */
import { RUNTIME_DATABASE_ROLE } from "../core/db/runtime-role";
import { functionNetwork, vpc } from "./network";
import { dbConnectArn, proxyConnectArn } from "./permissions";
import { connectionBudgetOf, POSTGRES_MAJOR } from "./settings";
import { settings } from "./stage";

const db = settings.database;
const budget = connectionBudgetOf(settings);

const subnetGroup = new aws.rds.SubnetGroup("DatabaseSubnets", {
  subnetIds: vpc.privateSubnets,
});

const proxySecurityGroup = new aws.ec2.SecurityGroup("DatabaseProxySecurityGroup", {
  vpcId: vpc.id,
  description: "RDS Proxy: Postgres from the functions only",
  ingress: [
    {
      protocol: "tcp",
      fromPort: 5432,
      toPort: 5432,
      securityGroups: functionNetwork.securityGroups,
    },
  ],
  egress: [
    { protocol: "tcp", fromPort: 5432, toPort: 5432, cidrBlocks: [vpc.nodes.vpc.cidrBlock] },
  ],
});

const securityGroup = new aws.ec2.SecurityGroup("DatabaseSecurityGroup", {
  vpcId: vpc.id,
  description: "Postgres from the functions, RDS Proxy (and the bastion when enabled) only",
  ingress: [
    {
      protocol: "tcp",
      fromPort: 5432,
      toPort: 5432,
      securityGroups: functionNetwork.securityGroups,
      cidrBlocks: settings.network.bastion ? [vpc.nodes.vpc.cidrBlock] : [],
    },
    { protocol: "tcp", fromPort: 5432, toPort: 5432, securityGroups: [proxySecurityGroup.id] },
  ],
});

const parameterGroup = new aws.rds.ParameterGroup("DatabaseParameters", {
  family: `postgres${POSTGRES_MAJOR}`,
  parameters: [
    { name: "rds.force_ssl", value: "1" },
    // Sessions ask for UTC in their startup packet; the default says the same, so a pooler
    // or a client that did not pass it on would not change a value (TIMESTAMP columns hold UTC).
    { name: "timezone", value: "UTC" },
    // The connection budget's total (infra/connections.ts); a static parameter, applied at the next reboot.
    {
      name: "max_connections",
      value: String(db.maxConnections),
      applyMethod: "pending-reboot",
    },
  ],
});

export const database = new aws.rds.Instance(
  "Database",
  {
    engine: "postgres",
    engineVersion: POSTGRES_MAJOR,
    allowMajorVersionUpgrade: false,
    autoMinorVersionUpgrade: true,
    instanceClass: db.instanceClass,
    storageType: "gp3",
    allocatedStorage: db.storageGb,
    maxAllocatedStorage: db.maxStorageGb,
    storageEncrypted: true,
    dbName: db.name,
    username: db.username,
    manageMasterUserPassword: true,
    // The API and refresh functions sign in as the runtime role with IAM tokens.
    iamDatabaseAuthenticationEnabled: true,
    dbSubnetGroupName: subnetGroup.name,
    vpcSecurityGroupIds: [securityGroup.id],
    parameterGroupName: parameterGroup.name,
    publiclyAccessible: false,
    multiAz: db.multiAz,
    backupRetentionPeriod: db.backupRetentionDays,
    copyTagsToSnapshot: true,
    deletionProtection: db.deletionProtection,
    skipFinalSnapshot: !settings.production,
    finalSnapshotIdentifier: settings.production ? `${$app.name}-${$app.stage}-final` : undefined,
    applyImmediately: !settings.production,
  },
  { protect: settings.production },
);

/** The RDS-managed secret holding `{"username","password"}`. */
export const databaseSecretArn = database.masterUserSecrets.apply((secrets) => {
  const secret = secrets[0];
  if (!secret) throw new Error("RDS did not report a managed master user secret.");
  return secret.secretArn;
});

/** What rds-db:connect names for the runtime role (migration 0008). */
export const runtimeDbUserArn = $resolve([database.arn, database.resourceId]).apply(
  ([arn, resourceId]) => dbConnectArn(arn, resourceId, RUNTIME_DATABASE_ROLE),
);

/** RDS Proxy signs in to the instance as the runtime role with IAM: it may do only that. */
const proxyRole = new aws.iam.Role("DatabaseProxyRole", {
  assumeRolePolicy: JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      { Effect: "Allow", Principal: { Service: "rds.amazonaws.com" }, Action: "sts:AssumeRole" },
    ],
  }),
  inlinePolicies: [
    {
      name: "connect-as-runtime-role",
      policy: runtimeDbUserArn.apply((arn) =>
        JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Action: "rds-db:connect", Resource: arn }],
        }),
      ),
    },
  ],
});

/**
 * The API's way in: transaction pooling over at most MaxConnectionsPercent
 * of max_connections (infra/connections.ts). End-to-end IAM: the API signs a
 * token for the proxy's endpoint, and the proxy signs its own to the
 * instance, so no password exists for the runtime role. TLS is required from
 * the clients (they verify the proxy's certificate, infra/rds-ca.ts).
 */
export const databaseProxy = new aws.rds.Proxy("DatabaseProxy", {
  engineFamily: "POSTGRESQL",
  defaultAuthScheme: "IAM_AUTH",
  requireTls: true,
  roleArn: proxyRole.arn,
  vpcSubnetIds: vpc.privateSubnets,
  vpcSecurityGroupIds: [proxySecurityGroup.id],
  // A frozen Lambda container's idle connection is closed after 30 minutes (the default).
  idleClientTimeout: 1800,
  debugLogging: false,
});

export const databaseProxyTargetGroup = new aws.rds.ProxyDefaultTargetGroup(
  "DatabaseProxyTargetGroup",
  {
    dbProxyName: databaseProxy.name,
    connectionPoolConfig: {
      maxConnectionsPercent: budget.proxy.maxConnectionsPercent,
      maxIdleConnectionsPercent: Math.floor(budget.proxy.maxConnectionsPercent / 2),
      // A request waits this long for a server connection, then fails (503), well inside API Gateway's 30 s.
      connectionBorrowTimeout: 10,
    },
  },
);

export const databaseProxyTarget = new aws.rds.ProxyTarget("DatabaseProxyTarget", {
  dbProxyName: databaseProxy.name,
  targetGroupName: databaseProxyTargetGroup.name,
  dbInstanceIdentifier: database.identifier,
});

/** What rds-db:connect names for the runtime role at the proxy. */
export const runtimeProxyUserArn = databaseProxy.arn.apply((arn) =>
  proxyConnectArn(arn, RUNTIME_DATABASE_ROLE),
);

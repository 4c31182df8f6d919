/**
 * Postgres on RDS, engine major 15 like the embedded Postgres the tests use.
 * RDS manages the master password in Secrets Manager (and rotates it), so no
 * password ever passes through this code, the state file or an env var.
 */
import { RUNTIME_DATABASE_ROLE } from "../core/db/runtime-role";
import { functionNetwork, vpc } from "./network";
import { dbConnectArn } from "./permissions";
import { POSTGRES_MAJOR } from "./settings";
import { settings } from "./stage";

const db = settings.database;

const subnetGroup = new aws.rds.SubnetGroup("DatabaseSubnets", {
  subnetIds: vpc.privateSubnets,
});

const securityGroup = new aws.ec2.SecurityGroup("DatabaseSecurityGroup", {
  vpcId: vpc.id,
  description: "Postgres from the functions (and the bastion when enabled) only",
  ingress: [
    {
      protocol: "tcp",
      fromPort: 5432,
      toPort: 5432,
      securityGroups: functionNetwork.securityGroups,
      cidrBlocks: settings.network.bastion ? [vpc.nodes.vpc.cidrBlock] : [],
    },
  ],
});

const parameterGroup = new aws.rds.ParameterGroup("DatabaseParameters", {
  family: `postgres${POSTGRES_MAJOR}`,
  parameters: [
    { name: "rds.force_ssl", value: "1" },
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

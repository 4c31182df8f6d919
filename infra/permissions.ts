/**
 * Least privilege, written down once: which function may do what, on which
 * resource. Pure; infra/functions.ts turns it into SST `permissions`.
 */
import { preMigrationSnapshotPrefix } from "../core/backups/snapshot-name";
import { KMS_ENCRYPTION_CONTEXT } from "../core/crypto/kms-context";
import type { FunctionKey } from "./runtime";

/**
 * Envelope encryption as the functions do it: make a data key, unwrap one.
 * Re-wrapping under a rotated master key (kms:ReEncrypt*) is the operator
 * CLI's (`npm run keys -- rotate`), run with the operator's own credentials.
 */
export const KEY_USE_ACTIONS = ["kms:GenerateDataKey", "kms:Decrypt"] as const;

/** Taking and watching a snapshot names the instance and the snapshot. */
export const SNAPSHOT_ACTIONS = ["rds:CreateDBSnapshot", "rds:DescribeDBSnapshots"] as const;

/** Tagging (the tags CreateDBSnapshot sets) only ever names the snapshot, never the instance. */
export const SNAPSHOT_TAG_ACTIONS = ["rds:AddTagsToResource"] as const;

export const READ_SECRET_ACTIONS = ["secretsmanager:GetSecretValue"] as const;

/** An IAM condition in SST's form: `test` is the operator, `variable` the context key. */
export interface GrantCondition {
  test: "StringEquals" | "ForAllValues:StringEquals";
  variable: string;
  values: string[];
}

export interface Grant<T> {
  actions: string[];
  resources: T[];
  conditions?: GrantCondition[];
}

/**
 * The key may be used only with the context the service sends on every
 * GenerateDataKey and Decrypt, so these roles cannot use it for anything else:
 * each of its pairs exactly, and no key beyond them (kms:EncryptionContextKeys;
 * without it a caller could add a pair of its own and still match).
 */
export function encryptionContextConditions(): GrantCondition[] {
  const pairs: GrantCondition[] = Object.entries(KMS_ENCRYPTION_CONTEXT).map(([name, value]) => ({
    test: "StringEquals",
    variable: `kms:EncryptionContext:${name}`,
    values: [value],
  }));
  return [
    ...pairs,
    {
      test: "ForAllValues:StringEquals",
      variable: "kms:EncryptionContextKeys",
      values: Object.keys(KMS_ENCRYPTION_CONTEXT).sort(),
    },
  ];
}

export interface GrantTargets<T> {
  kmsKeyArn: T;
  /** From dbConnectArn: signing in to the database as the runtime role (RDS IAM authentication). */
  runtimeDbUserArn: T;
  /** From proxyConnectArn: signing in to RDS Proxy as the runtime role (the API's path). */
  runtimeProxyUserArn: T;
  dbSecretArn: T;
  apiKeysSecretArn: T;
  dbInstanceArn: T;
  /** From snapshotArnPattern: only the snapshots this stage's migrate function names. */
  snapshotArnPattern: T;
}

/**
 * Which functions connect through RDS Proxy (transaction pooling; their
 * statements keep no session state) rather than straight to the instance
 * (migrate and refresh hold session advisory locks).
 */
export const CONNECTS_THROUGH_PROXY: Record<FunctionKey, boolean> = {
  migrate: false,
  refresh: false,
  api: true,
};

/** Which functions encrypt or decrypt broker configs and tokens. */
export const USES_MASTER_KEY: Record<FunctionKey, boolean> = {
  migrate: false,
  refresh: true,
  api: true,
};

/** The IAM statements of one function. */
export function grantsFor<T>(key: FunctionKey, targets: GrantTargets<T>): Grant<T>[] {
  // Only migrate holds the master user's secret; the others sign in as the
  // runtime role, which may only read and write the service's tables.
  // The API signs in to RDS Proxy, never to the instance; refresh the other way round.
  const grants: Grant<T>[] =
    key === "migrate"
      ? [{ actions: [...READ_SECRET_ACTIONS], resources: [targets.dbSecretArn] }]
      : [
          {
            actions: ["rds-db:connect"],
            resources: [
              CONNECTS_THROUGH_PROXY[key] ? targets.runtimeProxyUserArn : targets.runtimeDbUserArn,
            ],
          },
        ];
  if (USES_MASTER_KEY[key]) {
    grants.push({
      actions: [...KEY_USE_ACTIONS],
      resources: [targets.kmsKeyArn],
      conditions: encryptionContextConditions(),
    });
  }
  if (key === "api") {
    grants.push({ actions: [...READ_SECRET_ACTIONS], resources: [targets.apiKeysSecretArn] });
  }
  if (key === "migrate") {
    grants.push(
      {
        actions: [...SNAPSHOT_ACTIONS],
        resources: [targets.dbInstanceArn, targets.snapshotArnPattern],
      },
      { actions: [...SNAPSHOT_TAG_ACTIONS], resources: [targets.snapshotArnPattern] },
    );
  }
  return grants;
}

/**
 * For the scheduled refresh function alone: Lambda parks a run that failed
 * every retry in this queue. Its workers run without retries or a
 * dead-letter queue, so they do not get it.
 */
export function deadLetterGrant<T>(queueArn: T): Grant<T> {
  return { actions: ["sqs:SendMessage"], resources: [queueArn] };
}

/**
 * `arn:…:rds:<region>:<account>:snapshot:pre-migrate-<stage>-*` from the DB
 * instance's ARN; matches what core/backups' preMigrationSnapshotId produces.
 */
export function snapshotArnPattern(dbInstanceArn: string, stage: string): string {
  const match = /^(arn:[^:]+:rds:[^:]+:\d+):db:[^:]+$/.exec(dbInstanceArn);
  if (!match) throw new Error(`Not an RDS DB instance ARN: ${dbInstanceArn}.`);
  return `${match[1]}:snapshot:${preMigrationSnapshotPrefix(stage)}*`;
}

/**
 * `arn:…:rds-db:<region>:<account>:dbuser:<DbiResourceId>/<role>`: what
 * rds-db:connect names, from the DB instance's ARN and resource id.
 */
export function dbConnectArn(dbInstanceArn: string, resourceId: string, role: string): string {
  const match = /^arn:([^:]+):rds:([^:]+):(\d+):db:[^:]+$/.exec(dbInstanceArn);
  if (!match) throw new Error(`Not an RDS DB instance ARN: ${dbInstanceArn}.`);
  if (!/^db-[A-Z0-9]+$/.test(resourceId)) {
    throw new Error(`Not an RDS DbiResourceId: ${resourceId}.`);
  }
  return `arn:${match[1]}:rds-db:${match[2]}:${match[3]}:dbuser:${resourceId}/${role}`;
}

/**
 * `arn:…:rds-db:<region>:<account>:dbuser:<prx-id>/<role>`: what rds-db:connect
 * names for signing in to RDS Proxy, from the proxy's ARN
 * (`arn:…:rds:<region>:<account>:db-proxy:<prx-id>`).
 */
export function proxyConnectArn(proxyArn: string, role: string): string {
  const match = /^arn:([^:]+):rds:([^:]+):(\d+):db-proxy:(prx-[a-z0-9]+)$/.exec(proxyArn);
  if (!match) throw new Error(`Not an RDS Proxy ARN: ${proxyArn}.`);
  return `arn:${match[1]}:rds-db:${match[2]}:${match[3]}:dbuser:${match[4]}/${role}`;
}

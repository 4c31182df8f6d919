import {
  CreateDBSnapshotCommand,
  DescribeDBSnapshotsCommand,
  type RDSClient,
} from "@aws-sdk/client-rds";
import type { Clock } from "../clock";
import { SnapshotError } from "./errors";
import { preMigrationSnapshotId } from "./snapshot-name";

export interface PreMigrationSnapshotOptions {
  /** The RDS client; tests pass one mocked with aws-sdk-client-mock. */
  rds: RDSClient;
  /** DB instance identifier (not the ARN) of the database being migrated. */
  instanceId: string;
  /** Deployment stage, written into the snapshot's name and tags. */
  stage: string;
  clock: Clock;
  /** How long to wait for the snapshot to become `available` (default 10 minutes). */
  maxWaitMs?: number;
  /** Pause between status checks (default 15 s, RDS's own waiter's pace). */
  pollIntervalMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

const DEFAULT_MAX_WAIT_MS = 10 * 60_000;
const DEFAULT_POLL_INTERVAL_MS = 15_000;
/** States from which a snapshot never becomes available. */
const DEAD_STATES = new Set(["failed", "deleted", "deleting", "incompatible-restore"]);

/**
 * Takes a manual RDS snapshot of the instance and waits (bounded) until it is
 * available, so that every `up` has a restore point. Resolves to the
 * snapshot's identifier; throws SnapshotError when RDS refuses, the snapshot
 * fails, or it is not available within `maxWaitMs` (it then keeps being
 * created in the background, but the migration must not count on it).
 */
export async function createPreMigrationSnapshot(
  options: PreMigrationSnapshotOptions,
): Promise<string> {
  const { rds, instanceId, stage, clock } = options;
  const maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
  const pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  const sleep =
    options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));

  const startedAt = clock.now();
  const snapshotId = preMigrationSnapshotId(stage, startedAt);
  try {
    await rds.send(
      new CreateDBSnapshotCommand({
        DBInstanceIdentifier: instanceId,
        DBSnapshotIdentifier: snapshotId,
        Tags: [
          { Key: "purpose", Value: "pre-migration" },
          { Key: "stage", Value: stage },
        ],
      }),
    );
  } catch (error) {
    const name = (error as { name?: string }).name ?? "Error";
    throw new SnapshotError(
      "snapshot_rejected",
      `RDS refused to snapshot instance ${instanceId} (${name}); the migration was not started.`,
      { cause: error },
    );
  }

  for (;;) {
    const described = await rds.send(
      new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: snapshotId }),
    );
    const status = described.DBSnapshots?.[0]?.Status ?? "unknown";
    if (status === "available") return snapshotId;
    if (DEAD_STATES.has(status)) {
      throw new SnapshotError(
        "snapshot_failed",
        `Snapshot ${snapshotId} of instance ${instanceId} ended in state "${status}"; the migration was not started.`,
      );
    }
    const waitedMs = clock.now().getTime() - startedAt.getTime();
    if (waitedMs + pollIntervalMs > maxWaitMs) {
      throw new SnapshotError(
        "snapshot_timeout",
        `Snapshot ${snapshotId} of instance ${instanceId} was still "${status}" after ${Math.round(waitedMs / 1000)} s (limit ${Math.round(maxWaitMs / 1000)} s); the migration was not started. Run "up" again once the snapshot is available.`,
      );
    }
    await sleep(pollIntervalMs);
  }
}

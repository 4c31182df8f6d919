import {
  CreateDBSnapshotCommand,
  DBInstanceNotFoundFault,
  DescribeDBSnapshotsCommand,
  RDSClient,
} from "@aws-sdk/client-rds";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import {
  createPreMigrationSnapshot,
  preMigrationSnapshotId,
  SnapshotError,
} from "../../core/backups";
import type { Clock } from "../../core/clock";

const rdsMock = mockClient(RDSClient);
afterEach(() => rdsMock.reset());

/** A clock that only moves when the code under test sleeps. */
function fakeTime(start = "2025-10-07T03:04:05.678Z") {
  let now = new Date(start).getTime();
  const clock: Clock = { now: () => new Date(now) };
  const sleeps: number[] = [];
  const sleep = async (ms: number) => {
    sleeps.push(ms);
    now += ms;
  };
  return { clock, sleep, sleeps };
}

function statuses(...states: string[]) {
  let call = rdsMock.on(DescribeDBSnapshotsCommand);
  for (const state of states) {
    call = call.resolvesOnce({ DBSnapshots: [{ Status: state }] });
  }
}

describe("preMigrationSnapshotId", () => {
  it("names the stage and the UTC second the snapshot was taken", () => {
    expect(preMigrationSnapshotId("prod", new Date("2025-10-07T03:04:05.678Z"))).toBe(
      "pre-migrate-prod-20251007030405",
    );
  });

  it("turns a stage RDS would reject into letters, digits and single hyphens", () => {
    const id = preMigrationSnapshotId("Feature/Branch__42-", new Date("2025-01-01T00:00:00Z"));
    expect(id).toBe("pre-migrate-feature-branch-42-20250101000000");
    expect(id).toMatch(/^[a-z](?:[a-z0-9]|-(?!-))*[a-z0-9]$/);
  });

  it("stays within RDS's 255-character limit for a very long stage", () => {
    const id = preMigrationSnapshotId("x".repeat(400), new Date("2025-01-01T00:00:00Z"));
    expect(id.length).toBeLessThanOrEqual(255);
    expect(id.endsWith("-")).toBe(false);
  });
});

describe("createPreMigrationSnapshot", () => {
  it("snapshots the instance, waits until available and returns the snapshot id", async () => {
    const { clock, sleep, sleeps } = fakeTime();
    rdsMock.on(CreateDBSnapshotCommand).resolves({});
    statuses("creating", "creating", "available");

    const id = await createPreMigrationSnapshot({
      rds: new RDSClient({}),
      instanceId: "securities-prod",
      stage: "prod",
      clock,
      sleep,
      pollIntervalMs: 1000,
    });

    expect(id).toBe("pre-migrate-prod-20251007030405");
    const create = rdsMock.commandCalls(CreateDBSnapshotCommand);
    expect(create).toHaveLength(1);
    expect(create[0]?.args[0].input).toMatchObject({
      DBInstanceIdentifier: "securities-prod",
      DBSnapshotIdentifier: id,
    });
    expect(rdsMock.commandCalls(DescribeDBSnapshotsCommand)[0]?.args[0].input).toEqual({
      DBSnapshotIdentifier: id,
    });
    expect(sleeps).toEqual([1000, 1000]);
  });

  it("gives up with a timeout error once the bounded wait is spent", async () => {
    const { clock, sleep, sleeps } = fakeTime();
    rdsMock.on(CreateDBSnapshotCommand).resolves({});
    rdsMock.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ Status: "creating" }] });

    const attempt = createPreMigrationSnapshot({
      rds: new RDSClient({}),
      instanceId: "securities-prod",
      stage: "prod",
      clock,
      sleep,
      maxWaitMs: 10_000,
      pollIntervalMs: 3000,
    });

    await expect(attempt).rejects.toBeInstanceOf(SnapshotError);
    await expect(attempt).rejects.toMatchObject({ code: "snapshot_timeout", kind: "unavailable" });
    expect(sleeps.reduce((sum, ms) => sum + ms, 0)).toBeLessThanOrEqual(10_000);
    expect(sleeps).toEqual([3000, 3000, 3000]);
  });

  it("fails without waiting further when the snapshot ends in a failed state", async () => {
    const { clock, sleep } = fakeTime();
    rdsMock.on(CreateDBSnapshotCommand).resolves({});
    statuses("creating", "failed");

    await expect(
      createPreMigrationSnapshot({
        rds: new RDSClient({}),
        instanceId: "securities-prod",
        stage: "prod",
        clock,
        sleep,
        pollIntervalMs: 1000,
      }),
    ).rejects.toMatchObject({
      code: "snapshot_failed",
      message: expect.stringContaining("failed"),
    });
    expect(rdsMock.commandCalls(DescribeDBSnapshotsCommand)).toHaveLength(2);
  });

  it("reports RDS refusing the snapshot with the SDK error kept as the cause", async () => {
    const { clock, sleep } = fakeTime();
    const refusal = new DBInstanceNotFoundFault({ message: "DBInstance missing", $metadata: {} });
    rdsMock.on(CreateDBSnapshotCommand).rejects(refusal);

    const attempt = createPreMigrationSnapshot({
      rds: new RDSClient({}),
      instanceId: "securities-prod",
      stage: "prod",
      clock,
      sleep,
    });

    await expect(attempt).rejects.toMatchObject({
      code: "snapshot_rejected",
      message: expect.stringContaining("DBInstanceNotFound"),
      cause: refusal,
    });
    expect(rdsMock.commandCalls(DescribeDBSnapshotsCommand)).toHaveLength(0);
  });
});

/**
 * The realtime hub's deployment, as plain values (infra/hub.ts turns them into
 * SST's Cluster and Service; test/unit and the Pulumi-mock test check them).
 */
import { DEFAULT_STREAM_SETTINGS } from "../core/stream/settings";

/** The port the hub's container listens on (PORT). */
export const HUB_PORT = 8080;

/** One task: one process holds each app key's broker session (the lease makes a second wait). */
export const HUB_TASKS = 1;

/**
 * Rolling deploys stop the old task before starting the new one (0% healthy
 * minimum, 100% maximum): the old task's SIGTERM releases its leases, so the
 * new one opens each session at once and never beside the old one. Between
 * the two, realtime is down for the new task's start (notices are not lost:
 * clients resume with `since`, though the broker does not replay fills it
 * sent while no session was up).
 */
export const HUB_DEPLOYMENT = {
  deploymentMinimumHealthyPercent: 0,
  deploymentMaximumPercent: 100,
} as const;

/** ECS waits this long after SIGTERM before SIGKILL: room to release leases and close sockets. */
export const HUB_STOP_TIMEOUT_SECONDS = 30;

/** The hub's own settings beside the API's (it reads the same broker, token and crypto settings). */
export function hubEnvironment(): Record<string, string> {
  return {
    PORT: String(HUB_PORT),
    // Like the API, through RDS Proxy: the Amazon roots infra/functions.ts writes to
    // .sst/rds-ca/proxy.pem, copied into the image (infra/hub.Dockerfile).
    DB_SSL_CA_FILE: "rds-ca/proxy.pem",
    STREAM_LEASE_MS: String(DEFAULT_STREAM_SETTINGS.leaseMs),
    STREAM_HEARTBEAT_MS: String(DEFAULT_STREAM_SETTINGS.heartbeatMs),
    // Pool per task: leases, events and token reads (DB_POOL_MAX).
    DB_POOL_MAX: "4",
  };
}

/**
 * Every setting of the service, `npm start` and the deploy, declared once:
 * name, default, bounds, unit and one line saying what it does. The
 * service's parsers (core/*\/settings.ts), dev/start-settings.ts and
 * infra/settings.ts read numbers through readNumberSetting, so a setting has
 * one rule, one error type (SettingError) and one wording wherever it is
 * read; docs/operations.md's configuration table is generated from here
 * (`npm run settings-doc`). A leaf: the declaration's shape, its error and
 * its reading rule are in spec.ts, which imports only core/errors.
 *
 * Per-broker settings (KIS_REAL_URL, KIWOOM_MIN_ISSUE_INTERVAL_MS, …) are
 * declared by core/brokers/settings.ts from each adapter, in this same shape.
 */
import {
  NO_MAX,
  type NumberSettingSpec,
  readNumber,
  type SettingReader,
  type SettingSpec,
  type SettingUnit,
  type TextSettingSpec,
} from "./spec";

export {
  type NumberSettingSpec,
  numberRule,
  readNumber,
  SettingError,
  type SettingReader,
  type SettingSpec,
  type SettingUnit,
  type TextSettingSpec,
} from "./spec";

const service = ["service"] as const;
const start = ["start"] as const;
const deploy = ["deploy"] as const;
const both = ["service", "deploy"] as const;

function whole<D extends number | undefined>(
  unit: SettingUnit,
  fallback: D,
  min: number,
  max: number,
  readBy: readonly SettingReader[],
  text: string,
  defaultText?: string,
): NumberSettingSpec & { default: D } {
  return {
    kind: "number",
    whole: true,
    default: fallback,
    min,
    max,
    unit,
    readBy,
    text,
    ...(defaultText ? { defaultText } : {}),
  };
}

function text(
  readBy: readonly SettingReader[],
  defaultText: string,
  rule: string,
  line: string,
): TextSettingSpec {
  return { kind: "text", readBy, defaultText, rule, text: line };
}

/** The settings with a fixed name, in the order the docs list them. */
export const SETTINGS = {
  DATABASE_URL: text(
    [...service, ...start],
    "embedded Postgres 15 under `DATA_DIR/pg` (the functions: `DB_*`, below)",
    "a postgres:// URL",
    "any Postgres to use instead; every connection runs with `TimeZone=UTC`",
  ),
  DATA_DIR: text(
    [...service, ...start],
    "`.data`",
    "a directory",
    "local data: the embedded cluster, `master.key`, `api-keys.json`, `backups/`…",
  ),
  PORT: whole("", 3000, 0, 65535, start, "where `npm start` serves the API"),
  HOST: text(
    start,
    "`127.0.0.1`",
    "an IP address or a name this machine resolves",
    "the address `npm start` serves the API on",
  ),
  SANDBOX_PORT: whole(
    "",
    0,
    0,
    65535,
    start,
    "where `npm start` runs the broker sandbox (0: a free port)",
  ),
  HUB_PORT: whole(
    "",
    3001,
    0,
    65535,
    start,
    "where `npm start` runs the realtime hub, `ws://HOST:HUB_PORT/stream` (0: off); the container listens on `PORT`",
  ),
  LOCAL_API_KEY: text(
    start,
    "a generated admin key, printed once",
    "`<id>.<secret of 16+ chars>`",
    "fixes the local admin key, for scripts",
  ),
  REFRESH_INTERVAL_SECONDS: whole(
    "seconds",
    60,
    0,
    86_400,
    start,
    "how often `npm start` runs the refresh job (0: never)",
  ),
  SANDBOX_LATENCY_MS: {
    kind: "number",
    whole: false,
    default: 0,
    min: 0,
    max: NO_MAX,
    unit: "milliseconds",
    readBy: start,
    text: "the sandbox's added latency, under `npm start` and `npm run sandbox`",
  },
  SANDBOX_ERROR_RATE: {
    kind: "number",
    whole: false,
    default: 0,
    min: 0,
    max: 1,
    unit: "",
    readBy: start,
    text: "the sandbox's share of failed token requests, under `npm start` and `npm run sandbox`",
  },
  LOG_LEVEL: text(
    [...service, ...start, ...deploy],
    "`info`",
    "`debug`, `info`, `warn`, `error`, `silent`",
    "the log level",
  ),
  KMS_KEY_ID: text(
    service,
    "unset: the local key",
    "a KMS key id, ARN or alias",
    "the master key in AWS KMS; the functions require it",
  ),
  LOCAL_MASTER_KEY: text(
    [...service, ...start],
    "`DATA_DIR/master.key`, created 0600",
    "base64 of 32 bytes",
    "the local master key, instead of the file",
  ),
  LOCAL_PREVIOUS_MASTER_KEYS: text(
    [...service, ...start],
    "none",
    "comma-separated base64 keys",
    "older local keys, so `keys rotate` can unwrap what they wrapped",
  ),
  DATA_KEY_MAX_AGE_SECONDS: whole(
    "seconds",
    86_400,
    60,
    30 * 86_400,
    service,
    "a process stops encrypting with its data key once it is this old",
  ),
  DATA_KEY_MAX_USES: whole(
    "",
    2 ** 20,
    1,
    2 ** 31,
    service,
    "a process stops encrypting with its data key after this many uses",
  ),
  BROKER_TIMEOUT_MS: whole(
    "milliseconds",
    10_000,
    1,
    NO_MAX,
    service,
    "timeout of every broker call",
  ),
  BROKER_CALL_MAX_WAIT_MS: whole(
    "milliseconds",
    5_000,
    0,
    NO_MAX,
    service,
    "longest a gateway call waits for its slot before a 429 with Retry-After",
  ),
  BROKER_CALL_JITTER_MS: whole(
    "milliseconds",
    50,
    0,
    NO_MAX,
    service,
    "network jitter the gateway's pacing allows for (N calls spread over 1000 ms plus this)",
  ),
  REFRESH_WINDOW_HOURS: {
    kind: "number",
    whole: false,
    default: 6,
    min: 0.1,
    max: 23,
    unit: "hours",
    readBy: both,
    text: "the refresh job renews tokens expiring within this (the seed's window); KIS is capped at 17 h",
  },
  TOKEN_SAFETY_MARGIN_SECONDS: whole(
    "seconds",
    300,
    0,
    3600,
    service,
    "a token expiring sooner is never handed out",
  ),
  REFRESH_CONCURRENCY: whole("", 8, 1, 32, both, "accounts refreshed at once per refresh run"),
  REFRESH_TIME_BUDGET_MS: whole(
    "milliseconds",
    240_000,
    1000,
    900_000,
    service,
    "a refresh run starts no new issuance after this (the deploy sets it under the function timeout)",
  ),
  TOKEN_ISSUE_WAIT_MS: whole(
    "milliseconds",
    15_000,
    0,
    120_000,
    service,
    "how long a token request waits for another process's issuance or the broker's pace before a 503",
  ),
  TOKEN_ISSUE_LEASE_MS: whole(
    "milliseconds",
    30_000,
    1000,
    600_000,
    service,
    "how long an issuer holds the issuance lease (longer than a broker call)",
  ),
  STREAM_IDLE_TIMEOUT_MS: whole(
    "milliseconds",
    30_000,
    100,
    600_000,
    service,
    "the hub: no frame from a broker (keep-alives included) for this long cuts the session and reconnects",
  ),
  STREAM_BACKOFF_BASE_MS: whole(
    "milliseconds",
    500,
    10,
    600_000,
    service,
    "the hub's first reconnect delay, doubling, jittered",
  ),
  STREAM_BACKOFF_MAX_MS: whole(
    "milliseconds",
    30_000,
    10,
    3_600_000,
    service,
    "the hub's longest reconnect delay",
  ),
  STREAM_CONFLICT_BACKOFF_MS: whole(
    "milliseconds",
    60_000,
    10,
    3_600_000,
    service,
    "the hub's first wait after another session took the app key (OPSP8996, R10001), doubling up to 30 min",
  ),
  STREAM_LEASE_MS: whole(
    "milliseconds",
    15_000,
    1000,
    600_000,
    service,
    "a hub's lease on an app key's broker session",
  ),
  STREAM_HEARTBEAT_MS: whole(
    "milliseconds",
    5_000,
    100,
    300_000,
    service,
    "how often a hub renews its leases (at most half of STREAM_LEASE_MS)",
  ),
  STREAM_CLIENT_BUFFER_BYTES: whole(
    "",
    1_048_576,
    1024,
    1_073_741_824,
    service,
    "bytes of unsent market data after which the hub drops a slow client (close 1013)",
  ),
  REFRESH_BACKOFF_BASE_SECONDS: whole(
    "seconds",
    60,
    1,
    86_400,
    service,
    "backoff of an account whose refresh failed, doubled per failure",
  ),
  REFRESH_BACKOFF_MAX_SECONDS: whole(
    "seconds",
    3600,
    1,
    86_400,
    service,
    "the cap of that backoff",
  ),
  API_KEYS_SECRET_ID: text(
    service,
    "unset: `DATA_DIR/api-keys.json`",
    "a Secrets Manager secret name or ARN",
    "the secret holding the API keys",
  ),
  API_KEYS_CACHE_SECONDS: whole(
    "seconds",
    300,
    0,
    3600,
    service,
    "how long the API keys from Secrets Manager are cached",
  ),
  DB_POOL_MAX: whole(
    "",
    undefined,
    1,
    NO_MAX,
    service,
    "connections a function's pool may open (the deploy sets it from the connection budget)",
    "API 2, refresh `REFRESH_CONCURRENCY` + 2",
  ),
  REFRESH_MAX_WORKERS: whole(
    "",
    4,
    1,
    64,
    both,
    "most refresh runs at once: the scheduled run plus the workers it starts",
    "`4` (the deploy sets it; the refresh function without it: 1)",
  ),
  REFRESH_ACCOUNT_MS: whole(
    "milliseconds",
    300,
    10,
    60_000,
    both,
    "time one account's refresh takes (a broker call and its queries), to size the fan-out",
  ),
  DB_STORAGE_GB: whole("GB", 20, 20, 65536, deploy, "initial database storage"),
  DB_MAX_STORAGE_GB: whole("GB", 100, 20, 65536, deploy, "the storage autoscaling ceiling"),
  DB_BACKUP_RETENTION_DAYS: whole(
    "days",
    undefined,
    1,
    35,
    deploy,
    "automated backups kept (point-in-time restore)",
    "14 in production, else 1",
  ),
  DB_MAX_CONNECTIONS: whole(
    "",
    undefined,
    25,
    5000,
    deploy,
    "`max_connections` set in the parameter group; the connection budget splits it",
    "from `DB_INSTANCE_CLASS`",
  ),
  KMS_DELETION_WINDOW_DAYS: whole(
    "days",
    30,
    7,
    30,
    deploy,
    "waiting period if the created key is deleted",
  ),
  REFRESH_RETRIES: whole("", 2, 0, 2, deploy, "Lambda's retries of a failed refresh run"),
  REFRESH_TIMEOUT_SECONDS: whole("seconds", 300, 60, 900, deploy, "refresh function timeout"),
  REFRESH_MEMORY_MB: whole("MB", 512, 128, 10240, deploy, "refresh function memory"),
  MIGRATE_TIMEOUT_SECONDS: whole("seconds", 900, 120, 900, deploy, "migrate function timeout"),
  MIGRATE_MEMORY_MB: whole("MB", 1024, 256, 10240, deploy, "migrate function memory"),
  API_TIMEOUT_SECONDS: whole(
    "seconds",
    29,
    3,
    29,
    deploy,
    "API function timeout (API Gateway stops waiting at 30 s)",
  ),
  API_MEAN_LATENCY_MS: whole(
    "milliseconds",
    100,
    1,
    29_000,
    deploy,
    "mean API latency the stage throttle's steady rate is computed from",
  ),
  API_DB_MS: whole(
    "milliseconds",
    20,
    1,
    29_000,
    deploy,
    "time an API request holds one of RDS Proxy's server connections (its statements); sizes the API's containers",
  ),
  API_MAX_CONCURRENCY: whole(
    "",
    100,
    2,
    10_000,
    deploy,
    "most API containers (reserved concurrency), whatever RDS Proxy's connections could carry",
  ),
  API_MEMORY_MB: whole("MB", 512, 128, 10240, deploy, "API function memory"),
  ORDER_RECONCILE_WINDOW_MS: whole(
    "milliseconds",
    5_000,
    1_000,
    NO_MAX,
    service,
    "an unknown order is `not_placed` only when the day's orders show nothing this long after its send",
  ),
  ORDER_RECONCILE_CHECKS: whole(
    "",
    2,
    2,
    100,
    service,
    "day-order queries that must find nothing (spread over the window) before an unknown order is `not_placed`",
  ),
} as const satisfies Record<string, SettingSpec>;

export type SettingName = keyof typeof SETTINGS;
export type NumberSettingName = {
  [K in SettingName]: (typeof SETTINGS)[K] extends NumberSettingSpec ? K : never;
}[SettingName];

/**
 * Reads one number setting by its declaration: the default when unset or
 * blank, else the value within its bounds, else a SettingError. `fallback`
 * supplies a derived default (DB_POOL_MAX).
 */
export function readNumberSetting(
  env: Record<string, string | undefined>,
  name: NumberSettingName,
  options: { fallback?: number } = {},
): number {
  return readNumber(env, name, SETTINGS[name], options.fallback);
}

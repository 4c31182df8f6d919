/**
 * The settings of a process wherever it runs: its database and data
 * directory, `npm start`'s ports and sandbox, the log level and the master
 * and data keys. Part of the one table, core/config/settings.ts.
 */
import { deploy, service, start, text, whole } from "./declare";
import { NO_MAX, type SettingSpec } from "./spec";

export const PROCESS_SETTINGS = {
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
} as const satisfies Record<string, SettingSpec>;

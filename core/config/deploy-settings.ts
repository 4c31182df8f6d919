/**
 * The settings only `sst deploy` reads: database storage and connections,
 * the KMS key's deletion window, the functions' timeouts, memory and
 * concurrency. Part of the one table, core/config/settings.ts.
 */
import { deploy, whole } from "./declare";
import type { SettingSpec } from "./spec";

export const DEPLOY_SETTINGS = {
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
} as const satisfies Record<string, SettingSpec>;

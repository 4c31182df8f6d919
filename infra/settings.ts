import { brokerSettingSpecs } from "../core/brokers/settings";
import {
  type NumberSettingName,
  type NumberSettingSpec,
  readNumber,
  readNumberSetting,
  SETTINGS,
} from "../core/config/settings";
import { LOG_LEVELS, type LogLevel } from "../core/log";
import { type ConnectionBudget, connectionBudget, maxConnectionsFor } from "./connections";

/**
 * Every knob of the deployment, in one place. Read once from the stage and the
 * environment of the machine running `sst deploy`; pure (no SST globals) so
 * that unit tests cover the defaults and the checks. The README's Deploy section lists them.
 */

/** The embedded Postgres this project tests against is 15; RDS must run the same major. */
export const POSTGRES_MAJOR = "15";

/** RDS needs a subnet group spanning two AZs; functions are pinned to the first (see network.ts). */
export const AVAILABILITY_ZONES = 2;

export const LOG_RETENTIONS = [
  "1 week",
  "2 weeks",
  "1 month",
  "3 months",
  "6 months",
  "1 year",
  "forever",
] as const;
export type LogRetention = (typeof LOG_RETENTIONS)[number];

export type NatType = "managed" | "ec2";

export interface FunctionSize {
  timeoutSeconds: number;
  memoryMb: number;
}

export interface InfraSettings {
  stage: string;
  production: boolean;
  region: string;
  network: {
    natType: NatType;
    /** Existing Elastic IP allocation ids (one per AZ) to keep the egress IP across rebuilds. */
    natEipAllocationIds?: string[];
    bastion: boolean;
  };
  database: {
    instanceClass: string;
    storageGb: number;
    maxStorageGb: number;
    multiAz: boolean;
    backupRetentionDays: number;
    deletionProtection: boolean;
    name: string;
    username: string;
    /** max_connections, set in the parameter group; the connection budget splits it (infra/connections.ts). */
    maxConnections: number;
  };
  keys: {
    /** Use this existing KMS key instead of creating one. */
    existingKmsKeyArn?: string;
    kmsDeletionWindowDays: number;
  };
  refresh: FunctionSize & {
    schedule: string;
    timezone: string;
    windowHours: number;
    concurrency: number;
    /** Lambda's own retries of a failed asynchronous run (0-2). */
    retries: number;
    /** Most refresh runs at once: the scheduled run plus the workers it starts. */
    maxWorkers: number;
    /** Time one account takes (a broker call and its queries), to size the fan-out. */
    accountMs: number;
  };
  migrate: FunctionSize;
  api: FunctionSize & {
    /** Mean request latency the stage throttle's steady rate is computed from. */
    meanLatencyMs: number;
    /** Time a request holds a server connection of the proxy's pool (its statements and transactions). */
    dbMs: number;
    /** The most API containers (reserved concurrency), whatever the proxy could carry. */
    maxConcurrency: number;
  };
  logLevel: LogLevel;
  logRetention: LogRetention;
  alarmEmail?: string;
  /** Broker base URL overrides; the code defaults to the real hosts. */
  brokerUrls: Record<string, string>;
  /** The gateway's pacing overrides (calls per second per app key, wait bound, jitter); the code has the defaults. */
  brokerCalls: Record<string, string>;
}

/** The brokers' own settings a deploy reads, of one kind, in their adapters' order (core/brokers/settings.ts). */
function deployedBrokerSettings(kind: "text" | "number"): string[] {
  return Object.entries(brokerSettingSpecs())
    .filter(([, spec]) => spec.kind === kind && spec.readBy.includes("deploy"))
    .map(([name]) => name);
}

/**
 * Passed to the API function as they are; core/brokers settings check them
 * again at start: each broker's `<PREFIX>_{REAL,PAPER}_CALLS_PER_SECOND`,
 * then the gateway's wait bound and jitter.
 */
export function brokerCallSettings(): string[] {
  return [...deployedBrokerSettings("number"), "BROKER_CALL_MAX_WAIT_MS", "BROKER_CALL_JITTER_MS"];
}

/** Each broker's `<PREFIX>_REAL_URL` and `<PREFIX>_PAPER_URL`. */
export function brokerUrlSettings(): string[] {
  return deployedBrokerSettings("text");
}

type Env = Record<string, string | undefined>;

/** Stages that get production defaults (Multi-AZ, deletion protection, managed NAT). */
export function isProductionStage(stage: string): boolean {
  return stage === "production" || stage === "prod";
}

/** Settings for a stage; throws one sentence naming the first bad setting. */
export function parseInfraSettings(stage: string, env: Env): InfraSettings {
  const production = isProductionStage(stage);
  const read = (name: string) => {
    const value = env[name]?.trim();
    return value ? value : undefined;
  };
  // Every number by its one declaration (core/config/settings.ts): bounds, unit, wording.
  const integer = (name: NumberSettingName, fallback?: number) =>
    readNumberSetting(env, name, fallback === undefined ? {} : { fallback });
  const flag = (name: string, fallback: boolean) => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    if (raw === "true" || raw === "false") return raw === "true";
    throw new Error(`${name} must be "true" or "false", not "${raw}".`);
  };
  const oneOf = <T extends string>(name: string, choices: readonly T[], fallback: T): T => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    if (!(choices as readonly string[]).includes(raw)) {
      throw new Error(`${name} must be one of ${choices.join(", ")}, not "${raw}".`);
    }
    return raw as T;
  };

  const natEipAllocationIds = read("NAT_EIP_ALLOCATION_IDS")
    ?.split(",")
    .map((id) => id.trim())
    .filter(Boolean);
  if (natEipAllocationIds && natEipAllocationIds.length !== AVAILABILITY_ZONES) {
    throw new Error(
      `NAT_EIP_ALLOCATION_IDS must list ${AVAILABILITY_ZONES} Elastic IP allocation ids (one per AZ), not ${natEipAllocationIds.length}.`,
    );
  }
  if (natEipAllocationIds?.some((id) => !/^eipalloc-[0-9a-f]+$/.test(id))) {
    throw new Error('NAT_EIP_ALLOCATION_IDS must hold ids like "eipalloc-0123456789abcdef0".');
  }

  const existingKmsKeyArn = read("KMS_KEY_ARN");
  if (
    existingKmsKeyArn &&
    !/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[\w-]+$/.test(existingKmsKeyArn)
  ) {
    throw new Error("KMS_KEY_ARN must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>).");
  }

  const storageGb = integer("DB_STORAGE_GB");
  const maxStorageGb = integer("DB_MAX_STORAGE_GB");
  if (maxStorageGb < storageGb) {
    throw new Error(
      `DB_MAX_STORAGE_GB (${maxStorageGb}) must not be below DB_STORAGE_GB (${storageGb}).`,
    );
  }
  const instanceClass = read("DB_INSTANCE_CLASS") ?? "db.t4g.micro";
  if (!/^db\.[a-z0-9]+\.[a-z0-9]+$/.test(instanceClass)) {
    throw new Error(`DB_INSTANCE_CLASS must look like "db.t4g.micro", not "${instanceClass}".`);
  }

  const schedule = read("REFRESH_SCHEDULE") ?? "rate(10 minutes)";
  if (!/^(rate|cron)\(.+\)$/.test(schedule)) {
    throw new Error(
      `REFRESH_SCHEDULE must be a rate(...) or cron(...) expression, not "${schedule}".`,
    );
  }

  const alarmEmail = read("ALARM_EMAIL");
  if (alarmEmail && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(alarmEmail)) {
    throw new Error(`ALARM_EMAIL must be an email address, not "${alarmEmail}".`);
  }

  const brokerUrls: InfraSettings["brokerUrls"] = {};
  for (const name of brokerUrlSettings()) {
    const value = read(name);
    if (value === undefined) continue;
    if (!/^https:\/\/[^\s/]+(:\d+)?\/?$/.test(value)) {
      throw new Error(`${name} must be an https:// base URL, not "${value}".`);
    }
    brokerUrls[name] = value;
  }

  // Checked by the API's own declarations; passed on as they are.
  const brokerSpecs = brokerSettingSpecs();
  const brokerCalls: InfraSettings["brokerCalls"] = {};
  for (const name of brokerCallSettings()) {
    const value = read(name);
    if (value === undefined) continue;
    const spec = (brokerSpecs[name] ?? SETTINGS[name as NumberSettingName]) as NumberSettingSpec;
    readNumber(env, name, spec);
    brokerCalls[name] = value;
  }

  const settings: InfraSettings = {
    stage,
    production,
    region: read("AWS_REGION") ?? "ap-northeast-2",
    network: {
      natType: oneOf("NAT_TYPE", ["managed", "ec2"] as const, production ? "managed" : "ec2"),
      ...(natEipAllocationIds ? { natEipAllocationIds } : {}),
      bastion: flag("BASTION", false),
    },
    database: {
      instanceClass,
      storageGb,
      maxStorageGb,
      multiAz: flag("DB_MULTI_AZ", production),
      backupRetentionDays: integer("DB_BACKUP_RETENTION_DAYS", production ? 14 : 1),
      deletionProtection: flag("DB_DELETION_PROTECTION", production),
      name: "securities",
      username: "securities_admin",
      maxConnections: integer("DB_MAX_CONNECTIONS", maxConnectionsFor(instanceClass)),
    },
    keys: {
      ...(existingKmsKeyArn ? { existingKmsKeyArn } : {}),
      kmsDeletionWindowDays: integer("KMS_DELETION_WINDOW_DAYS"),
    },
    refresh: {
      schedule,
      timezone: read("REFRESH_TIMEZONE") ?? "UTC",
      // The service's own declarations: one default and one bound for the functions and the deploy.
      windowHours: integer("REFRESH_WINDOW_HOURS"),
      concurrency: integer("REFRESH_CONCURRENCY"),
      retries: integer("REFRESH_RETRIES"),
      maxWorkers: integer("REFRESH_MAX_WORKERS"),
      // The measured broker latency is 100-300 ms; the slow end sizes the fan-out.
      accountMs: integer("REFRESH_ACCOUNT_MS"),
      timeoutSeconds: integer("REFRESH_TIMEOUT_SECONDS"),
      memoryMb: integer("REFRESH_MEMORY_MB"),
    },
    migrate: {
      timeoutSeconds: integer("MIGRATE_TIMEOUT_SECONDS"),
      memoryMb: integer("MIGRATE_MEMORY_MB"),
    },
    api: {
      // API Gateway's HTTP API gives up on an integration after 30 s.
      timeoutSeconds: integer("API_TIMEOUT_SECONDS"),
      meanLatencyMs: integer("API_MEAN_LATENCY_MS"),
      dbMs: integer("API_DB_MS"),
      maxConcurrency: integer("API_MAX_CONCURRENCY"),
      memoryMb: integer("API_MEMORY_MB"),
    },
    logLevel: oneOf("LOG_LEVEL", LOG_LEVELS, "info"),
    logRetention: oneOf("LOG_RETENTION", LOG_RETENTIONS, production ? "3 months" : "1 month"),
    ...(alarmEmail ? { alarmEmail } : {}),
    brokerUrls,
    brokerCalls,
  };
  checkRefreshCadence(settings.refresh);
  // Refuses, in one sentence, an instance too small for the refresh settings.
  connectionBudgetOf(settings);
  return settings;
}

/**
 * Seconds between two scheduled runs for `rate(...)` expressions, or
 * undefined for `cron(...)`, whose spacing the code does not interpret.
 */
export function scheduleIntervalSeconds(schedule: string): number | undefined {
  const match = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(schedule);
  if (!match) return undefined;
  const count = Number(match[1]);
  const unit = match[2] ?? "";
  const seconds = unit.startsWith("minute") ? 60 : unit.startsWith("hour") ? 3600 : 86400;
  return count * seconds;
}

/**
 * A token due within the window must get at least two runs before it expires
 * (one may fail), and runs must not overlap (each one may use its whole timeout).
 */
export function checkRefreshCadence(
  refresh: Omit<InfraSettings["refresh"], "maxWorkers" | "accountMs">,
): void {
  const interval = scheduleIntervalSeconds(refresh.schedule);
  if (interval === undefined) return;
  if (interval < refresh.timeoutSeconds) {
    throw new Error(
      `REFRESH_SCHEDULE (${refresh.schedule}) runs more often than REFRESH_TIMEOUT_SECONDS (${refresh.timeoutSeconds}), so runs would overlap.`,
    );
  }
  if (refresh.windowHours * 3600 < 2 * interval) {
    throw new Error(
      `REFRESH_WINDOW_HOURS (${refresh.windowHours}) must cover at least two runs of REFRESH_SCHEDULE (${refresh.schedule}).`,
    );
  }
}

/** The connection budget these settings deploy (infra/connections.ts). */
export function connectionBudgetOf(
  settings: Pick<InfraSettings, "database" | "refresh" | "api">,
): ConnectionBudget {
  return connectionBudget({
    maxConnections: settings.database.maxConnections,
    refreshConcurrency: settings.refresh.concurrency,
    refreshWorkers: settings.refresh.maxWorkers,
    apiMaxConcurrency: settings.api.maxConcurrency,
    apiMeanLatencyMs: settings.api.meanLatencyMs,
    apiDbMs: settings.api.dbMs,
  });
}

import { BROKER_ADAPTERS } from "../brokers/adapters";
import { BROKER_ENVIRONMENTS, type Broker, type BrokerEnvironment } from "../brokers/types";
import { readNumberSetting } from "../config/settings";
import { ValidationError } from "../errors";

/** The hub's settings, read once at start. */
export interface StreamSettings {
  /** The brokers' websocket URLs (`<PREFIX>_REAL_WS_URL`, `<PREFIX>_PAPER_WS_URL`, the prefix the adapter's settingsPrefix). */
  wsUrls: Record<Broker, Record<BrokerEnvironment, string>>;
  /** No frame (keep-alives included) for this long: the session is cut and reopened (STREAM_IDLE_TIMEOUT_MS). */
  idleTimeoutMs: number;
  /** Reconnect backoff: first delay and cap, jittered (STREAM_BACKOFF_BASE_MS, STREAM_BACKOFF_MAX_MS). */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** After OPSP8996 / R10001 (another session on the key): the first wait, doubled each time (STREAM_CONFLICT_BACKOFF_MS). */
  conflictBackoffMs: number;
  /** Lease of an app key's session: its length and the heartbeat that renews it (STREAM_LEASE_MS, STREAM_HEARTBEAT_MS). */
  leaseMs: number;
  heartbeatMs: number;
  /** A client with more than this many bytes unsent is dropped (STREAM_CLIENT_BUFFER_BYTES). */
  clientBufferBytes: number;
  /** Day orders checked for fills no notice told this often while up, 0 never (STREAM_CATCH_UP_INTERVAL_MS). */
  catchUpIntervalMs: number;
}

/** The defaults, from the settings' declarations (core/config/settings.ts). */
export const DEFAULT_STREAM_SETTINGS: Omit<StreamSettings, "wsUrls"> = {
  idleTimeoutMs: readNumberSetting({}, "STREAM_IDLE_TIMEOUT_MS"),
  backoffBaseMs: readNumberSetting({}, "STREAM_BACKOFF_BASE_MS"),
  backoffMaxMs: readNumberSetting({}, "STREAM_BACKOFF_MAX_MS"),
  conflictBackoffMs: readNumberSetting({}, "STREAM_CONFLICT_BACKOFF_MS"),
  leaseMs: readNumberSetting({}, "STREAM_LEASE_MS"),
  heartbeatMs: readNumberSetting({}, "STREAM_HEARTBEAT_MS"),
  clientBufferBytes: readNumberSetting({}, "STREAM_CLIENT_BUFFER_BYTES"),
  catchUpIntervalMs: readNumberSetting({}, "STREAM_CATCH_UP_INTERVAL_MS"),
};

const NUMBERS = [
  ["idleTimeoutMs", "STREAM_IDLE_TIMEOUT_MS"],
  ["backoffBaseMs", "STREAM_BACKOFF_BASE_MS"],
  ["backoffMaxMs", "STREAM_BACKOFF_MAX_MS"],
  ["conflictBackoffMs", "STREAM_CONFLICT_BACKOFF_MS"],
  ["leaseMs", "STREAM_LEASE_MS"],
  ["heartbeatMs", "STREAM_HEARTBEAT_MS"],
  ["clientBufferBytes", "STREAM_CLIENT_BUFFER_BYTES"],
  ["catchUpIntervalMs", "STREAM_CATCH_UP_INTERVAL_MS"],
] as const;

/** Reads the hub's settings; one sentence per bad one. */
export function parseStreamSettings(env: Record<string, string | undefined>): StreamSettings {
  const issues: { field: string; message: string }[] = [];
  const settings = { ...DEFAULT_STREAM_SETTINGS, wsUrls: {} as StreamSettings["wsUrls"] };
  for (const [key, name] of NUMBERS) settings[key] = readNumberSetting(env, name);
  for (const adapter of Object.values(BROKER_ADAPTERS)) {
    const urls = { ...adapter.stream.defaultUrls };
    for (const environment of BROKER_ENVIRONMENTS) {
      const name = `${adapter.settingsPrefix}_${environment.toUpperCase()}_WS_URL`;
      const raw = env[name]?.trim();
      if (!raw) continue;
      if (!/^wss?:\/\/[^\s]+$/.test(raw))
        issues.push({ field: name, message: "must be a ws:// or wss:// URL" });
      else urls[environment] = raw;
    }
    settings.wsUrls[adapter.broker] = urls;
  }
  if (settings.heartbeatMs * 2 > settings.leaseMs) {
    issues.push({
      field: "STREAM_HEARTBEAT_MS",
      message:
        "must be at most half of STREAM_LEASE_MS, so a lease is renewed twice before it lapses",
    });
  }
  if (issues.length) throw new ValidationError(issues);
  return settings;
}

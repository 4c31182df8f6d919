import { METRIC, type Metrics } from "../metrics";
import type { HubStats } from "./stats";

/** One EMF document of the hub's last interval (counters as increases, gauges as now). */
export function recordHubStats(metrics: Metrics, interval: HubStats): void {
  metrics.put({
    [METRIC.hubSessionsUp]: interval.sessionsUp,
    [METRIC.hubSessionsDown]: interval.sessionsDown,
    [METRIC.hubReconnects]: interval.reconnects,
    [METRIC.hubSessionConflicts]: interval.conflicts,
    [METRIC.hubRegistrations]: interval.registrations,
    [METRIC.hubCapRefusals]: interval.capRefusals,
    [METRIC.hubClients]: interval.clients,
    [METRIC.hubFramesIn]: interval.framesIn,
    [METRIC.hubFramesOut]: interval.framesOut,
    [METRIC.hubSlowClientsDropped]: interval.slowClientsDropped,
    [METRIC.hubNoticesCaughtUp]: interval.noticesCaughtUp,
    [METRIC.hubCatchUpFailures]: interval.catchUpFailures,
    [METRIC.hubNoticeLag]: {
      value: Math.round(interval.noticeLagMs * 10) / 10,
      unit: "Milliseconds",
    },
  });
}

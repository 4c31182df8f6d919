/** What the hub counts, for metrics and the bench. */
export interface HubStats {
  sessionsUp: number;
  /** Sessions this hub holds the lease of that are not up (connecting, down, kicked). */
  sessionsDown: number;
  reconnects: number;
  /** Sessions refused or kicked for another on the same key (OPSP8996, R10001). */
  conflicts: number;
  registrations: number;
  capRefusals: number;
  clients: number;
  framesIn: number;
  framesOut: number;
  slowClientsDropped: number;
  noticesStored: number;
  noticeStoreFailures: number;
  /** Fills stored from the day orders that no notice had told (core/stream/catch-up.ts). */
  noticesCaughtUp: number;
  /** Notices not stored because a catch-up had already counted their fill. */
  noticesCovered: number;
  /** Catch-ups that could not read the day orders (each is tried again). */
  catchUpFailures: number;
  /** Receipt to fan-out of the last stored event (ms). */
  noticeLagMs: number;
}

export function emptyHubStats(): HubStats {
  return {
    sessionsUp: 0,
    sessionsDown: 0,
    reconnects: 0,
    conflicts: 0,
    registrations: 0,
    capRefusals: 0,
    clients: 0,
    framesIn: 0,
    framesOut: 0,
    slowClientsDropped: 0,
    noticesStored: 0,
    noticeStoreFailures: 0,
    noticesCaughtUp: 0,
    noticesCovered: 0,
    catchUpFailures: 0,
    noticeLagMs: 0,
  };
}

/** Counters (the rest are gauges): metrics carry their increase since the last report. */
const COUNTERS = [
  "reconnects",
  "conflicts",
  "capRefusals",
  "framesIn",
  "framesOut",
  "slowClientsDropped",
  "noticesCaughtUp",
  "noticesCovered",
  "catchUpFailures",
] as const;

/** The change of the counters since `previous`, the gauges as they are now. */
export function statsSince(current: HubStats, previous: HubStats): HubStats {
  const delta = { ...current };
  for (const name of COUNTERS) delta[name] = current[name] - previous[name];
  return delta;
}

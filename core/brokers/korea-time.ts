/**
 * Korea Standard Time is UTC+9 all year (no daylight saving since 1988), so
 * conversion is plain arithmetic. It never goes through the process's TZ:
 * `new Date("2024-01-01 10:00:00")` would read the string in local time.
 */
const KOREA_OFFSET_MS = 9 * 60 * 60 * 1000;

const DASHED = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})$/;
const COMPACT = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/;

/**
 * Parse a Korea-time wall clock, "YYYY-MM-DD HH:MM:SS" (KIS) or
 * "YYYYMMDDHHMMSS" (Kiwoom), into the UTC instant it names.
 * Returns undefined for anything else, including impossible dates.
 */
export function parseKoreaTime(text: string): Date | undefined {
  const match = DASHED.exec(text.trim()) ?? COMPACT.exec(text.trim());
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const wall = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(wall);
  // Date.UTC rolls 2024-02-30 over to March; a broker never means that.
  if (
    check.getUTCFullYear() !== year ||
    check.getUTCMonth() !== month - 1 ||
    check.getUTCDate() !== day ||
    check.getUTCHours() !== hour ||
    check.getUTCMinutes() !== minute ||
    check.getUTCSeconds() !== second
  ) {
    return undefined;
  }
  return new Date(wall - KOREA_OFFSET_MS);
}

/** Format a UTC instant as Korea wall-clock time in the KIS ("dashed") or Kiwoom ("compact") style. */
export function formatKoreaTime(instant: Date, style: "dashed" | "compact"): string {
  const korea = new Date(instant.getTime() + KOREA_OFFSET_MS);
  const pad = (value: number, width = 2) => String(value).padStart(width, "0");
  const date = [
    pad(korea.getUTCFullYear(), 4),
    pad(korea.getUTCMonth() + 1),
    pad(korea.getUTCDate()),
  ];
  const time = [pad(korea.getUTCHours()), pad(korea.getUTCMinutes()), pad(korea.getUTCSeconds())];
  return style === "dashed" ? `${date.join("-")} ${time.join(":")}` : date.join("") + time.join("");
}

const KOREA_MS = 9 * 60 * 60 * 1000;

/**
 * A realtime frame's Korea time of day (HHMMSS), on `yyyymmdd` or else on
 * the Korea date of `now`, as a UTC instant; `now` when the time is not six
 * digits. Arithmetic rather than parseKoreaTime's text round trip: it runs
 * for every frame the hub reads.
 */
export function koreaTimeOfDay(
  hhmmss: string | undefined,
  yyyymmdd: string | undefined,
  now: Date,
): Date {
  if (hhmmss?.length !== 6 || !/^\d{6}$/.test(hhmmss)) return now;
  let year: number;
  let month: number;
  let day: number;
  if (yyyymmdd && yyyymmdd.length === 8 && /^\d{8}$/.test(yyyymmdd)) {
    year = Number(yyyymmdd.slice(0, 4));
    month = Number(yyyymmdd.slice(4, 6)) - 1;
    day = Number(yyyymmdd.slice(6, 8));
  } else {
    const korea = new Date(now.getTime() + KOREA_MS);
    year = korea.getUTCFullYear();
    month = korea.getUTCMonth();
    day = korea.getUTCDate();
  }
  const at =
    Date.UTC(
      year,
      month,
      day,
      Number(hhmmss.slice(0, 2)),
      Number(hhmmss.slice(2, 4)),
      Number(hhmmss.slice(4, 6)),
    ) - KOREA_MS;
  return Number.isFinite(at) ? new Date(at) : now;
}

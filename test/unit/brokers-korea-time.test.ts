// Before any Date is used: the parsing must not depend on the process's zone.
process.env.TZ = "America/New_York";

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatKoreaTime, parseKoreaTime } from "../../core/brokers";

describe("Korea time is parsed as UTC+9 whatever the process's TZ", () => {
  it("runs in a process whose local zone is not UTC", () => {
    // New York is UTC-5 in January and UTC-4 in July.
    expect(new Date("2025-01-15T12:00:00Z").getTimezoneOffset()).toBe(300);
    expect(new Date("2025-07-15T12:00:00Z").getTimezoneOffset()).toBe(240);
  });

  it("reads KIS's dashed expiry as nine hours ahead of UTC", () => {
    expect(parseKoreaTime("2025-01-07 09:30:00")?.toISOString()).toBe("2025-01-07T00:30:00.000Z");
  });

  it("reads Kiwoom's compact expires_dt as nine hours ahead of UTC", () => {
    expect(parseKoreaTime("20250107093000")?.toISOString()).toBe("2025-01-07T00:30:00.000Z");
  });

  it("crosses the date line backwards for early Korean mornings", () => {
    expect(parseKoreaTime("2025-03-01 03:15:20")?.toISOString()).toBe("2025-02-28T18:15:20.000Z");
  });

  it("is unaffected by New York's daylight-saving switch", () => {
    // 2025-03-09 02:00 local does not exist in New York; Korea has no DST.
    expect(parseKoreaTime("20250309160000")?.toISOString()).toBe("2025-03-09T07:00:00.000Z");
    expect(parseKoreaTime("20250709160000")?.toISOString()).toBe("2025-07-09T07:00:00.000Z");
  });

  it("refuses impossible dates and other formats", () => {
    for (const text of [
      "2025-02-30 10:00:00",
      "2025-13-01 00:00:00",
      "20250101246000",
      "2025-01-01",
      "",
      "tomorrow",
    ]) {
      expect(parseKoreaTime(text)).toBeUndefined();
    }
  });

  it("formats and parses back to the same instant in both styles", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_102_444_800 }), (seconds) => {
        const instant = new Date(seconds * 1000);
        expect(parseKoreaTime(formatKoreaTime(instant, "dashed"))?.getTime()).toBe(
          instant.getTime(),
        );
        expect(parseKoreaTime(formatKoreaTime(instant, "compact"))?.getTime()).toBe(
          instant.getTime(),
        );
      }),
    );
  });

  it("formats a UTC instant as Korea wall-clock time", () => {
    const instant = new Date("2025-01-06T15:00:00Z");
    expect(formatKoreaTime(instant, "dashed")).toBe("2025-01-07 00:00:00");
    expect(formatKoreaTime(instant, "compact")).toBe("20250107000000");
  });
});

import { expect, test } from "vitest";
import { shownAt, startLogDestination, summarize } from "../../dev/start-log";

const request = {
  level: "info",
  event: "request",
  method: "GET",
  path: "/accounts/1/token",
  status: 200,
  duration_ms: 4.2,
  key_id: "ops",
};
const tokenRead = { level: "info", event: "token_read", account_id: 1, key_id: "ops" };

test("at info, npm start shows a request's line and hides the audit lines within it", () => {
  expect(shownAt("info", request)).toBe(true);
  expect(shownAt("info", tokenRead)).toBe(false);
});

test("at debug, npm start shows every line", () => {
  expect(shownAt("debug", tokenRead)).toBe(true);
});

test("warnings and errors are shown at info whatever their event", () => {
  expect(shownAt("info", { level: "warn", event: "token_refresh_failed" })).toBe(true);
  expect(shownAt("info", { level: "error", event: "request_failed" })).toBe(true);
});

test("a request reads as one sentence in a terminal", () => {
  expect(summarize(request)).toBe("GET /accounts/1/token → 200 in 4.2 ms by ops");
});

test("a refresh run reads as its counts, the zero ones left out", () => {
  expect(
    summarize({
      level: "info",
      event: "refresh_run",
      due: 3,
      issued: 2,
      deferred: 1,
      failed: 0,
      duration_ms: 250,
    }),
  ).toBe("refresh run: 3 due, 2 issued, 1 deferred in 250 ms");
});

test("off a terminal the lines stay JSON, filtered", () => {
  const written: string[] = [];
  const destination = startLogDestination({
    level: "info",
    tty: false,
    out: { write: (line) => written.push(line) },
  });
  destination.write(`${JSON.stringify(tokenRead)}\n`);
  destination.write(`${JSON.stringify(request)}\n`);
  expect(written).toEqual([`${JSON.stringify(request)}\n`]);
});

import { describe, expect, it } from "vitest";
import { coldStartTracker, createLogger, withLogContext } from "../../core/log";

function capture(level = "debug") {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level,
    base: { service: "test" },
    destination: { write: (line: string) => lines.push(JSON.parse(line)) },
  });
  return { logger, lines };
}

describe("the logger", () => {
  it("writes one JSON object per line with level, time, bindings and message", () => {
    const { logger, lines } = capture();
    logger.child({ fn: "api" }).info({ account_id: 7 }, "issued");
    expect(lines).toEqual([
      {
        level: "info",
        time: expect.any(String),
        service: "test",
        fn: "api",
        account_id: 7,
        msg: "issued",
      },
    ]);
  });

  it("redacts secret-named keys at any depth, whatever their case", () => {
    const { logger, lines } = capture();
    logger.info({
      body: { Access_Token: "tok-1", nested: [{ appsecret: "sec-1" }] },
      Authorization: "Bearer k",
    });
    const text = JSON.stringify(lines);
    expect(text).not.toMatch(/tok-1|sec-1|Bearer k/);
    expect(text.match(/\[redacted\]/g)).toHaveLength(3);
  });

  it("drops lines below its level", () => {
    const { logger, lines } = capture("warn");
    logger.info("not shown");
    logger.warn("shown");
    expect(lines.map((l) => l.msg)).toEqual(["shown"]);
  });

  it("writes errors with their type, message and code, and survives cycles", () => {
    const { logger, lines } = capture();
    const cyclic: Record<string, unknown> = { name: "loop" };
    cyclic.self = cyclic;
    logger.error({ err: Object.assign(new Error("boom"), { code: "E_BOOM" }), cyclic }, "failed");
    expect(lines[0]?.err).toMatchObject({ type: "Error", message: "boom", code: "E_BOOM" });
    expect(lines[0]?.cyclic).toEqual({ name: "loop", self: "[circular]" });
  });

  it("refuses an unknown level, naming the setting", () => {
    expect(() => createLogger({ level: "verbose" })).toThrow(
      'LOG_LEVEL must be one of debug, info, warn, error, silent; got "verbose"',
    );
  });
});

describe("the log context", () => {
  it("adds its fields to every line written inside it, by any logger, and only there", async () => {
    const { logger, lines } = capture();
    const other = capture();
    await withLogContext({ request_id: "r-1" }, async () => {
      logger.info("before await");
      await new Promise((resolve) => setTimeout(resolve, 1));
      other.logger.child({ part: "deep" }).info("after await");
      withLogContext({ cold_start: false }, () => logger.info("nested"));
    });
    logger.info("outside");
    expect(lines.map((l) => [l.msg, l.request_id, l.cold_start])).toEqual([
      ["before await", "r-1", undefined],
      ["nested", "r-1", false],
      ["outside", undefined, undefined],
    ]);
    expect(other.lines[0]).toMatchObject({ request_id: "r-1", part: "deep" });
  });

  it("a line's own fields win over the context's", () => {
    const { logger, lines } = capture();
    withLogContext({ request_id: "outer" }, () => logger.info({ request_id: "own" }, "x"));
    expect(lines[0]?.request_id).toBe("own");
  });

  it("reports a cold start once per tracker", () => {
    const coldStart = coldStartTracker();
    expect([coldStart(), coldStart(), coldStart()]).toEqual([true, false, false]);
  });
});

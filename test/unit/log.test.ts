import { describe, expect, it } from "vitest";
import { createLogger } from "../../core/log";

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
    logger.child({ fn: "api" }).info({ accountId: 7 }, "issued");
    expect(lines).toEqual([
      {
        level: "info",
        time: expect.any(String),
        service: "test",
        fn: "api",
        accountId: 7,
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

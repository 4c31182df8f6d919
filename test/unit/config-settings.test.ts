import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import { parseAuthSettings } from "../../core/auth";
import { brokerSettingSpecs } from "../../core/brokers/settings";
import {
  type NumberSettingSpec,
  readNumberSetting,
  SETTINGS,
  SettingError,
  type SettingSpec,
} from "../../core/config";
import { ValidationError } from "../../core/errors";
import { parseTokenSettings } from "../../core/tokens";
import { lambdaBuildOptions } from "../../infra/bundle";
import { parseInfraSettings } from "../../infra/settings";

const numbers = [...Object.entries(SETTINGS), ...Object.entries(brokerSettingSpecs())].filter(
  (entry): entry is [string, NumberSettingSpec] => (entry[1] as SettingSpec).kind === "number",
);

describe("the one declaration of every setting", () => {
  it.each(numbers)("%s's default lies within its bounds", (_name, spec) => {
    if (spec.default === undefined) return;
    expect(spec.default).toBeGreaterThanOrEqual(spec.min);
    expect(spec.default).toBeLessThanOrEqual(spec.max);
    if (spec.whole) expect(Number.isInteger(spec.default)).toBe(true);
  });

  it("refuses a bad value with one error type and one sentence naming the setting, the rule and the value", () => {
    const error = (() => {
      try {
        readNumberSetting({ API_KEYS_CACHE_SECONDS: "five" }, "API_KEYS_CACHE_SECONDS");
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(SettingError);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toBe(
      'API_KEYS_CACHE_SECONDS must be a whole number of seconds from 0 to 3600, got "five".',
    );
    expect(() => parseAuthSettings({ API_KEYS_CACHE_SECONDS: "five" })).toThrow(
      (error as Error).message,
    );
  });

  it("takes decimals only where the declaration says so", () => {
    expect(readNumberSetting({ REFRESH_WINDOW_HOURS: "0.5" }, "REFRESH_WINDOW_HOURS")).toBe(0.5);
    expect(() => readNumberSetting({ REFRESH_CONCURRENCY: "1.5" }, "REFRESH_CONCURRENCY")).toThrow(
      SettingError,
    );
    expect(() => readNumberSetting({ SANDBOX_ERROR_RATE: "1e-1" }, "SANDBOX_ERROR_RATE")).toThrow(
      SettingError,
    );
  });
});

// The same setting read by the service and by the deploy: one rule, so they cannot disagree.
describe("settings the service and the deploy both read", () => {
  const deploy = (env: Record<string, string>) => parseInfraSettings("dev", env);

  it("REFRESH_WINDOW_HOURS: the same fractions accepted and the same sentence for a bad one", () => {
    expect(parseTokenSettings({ REFRESH_WINDOW_HOURS: "0.5" }).refreshWindowMs).toBe(1_800_000);
    expect(deploy({ REFRESH_WINDOW_HOURS: "0.5" }).refresh.windowHours).toBe(0.5);
    const sentence = 'REFRESH_WINDOW_HOURS must be a number of hours from 0.1 to 23, got "24".';
    expect(() => parseTokenSettings({ REFRESH_WINDOW_HOURS: "24" })).toThrow(sentence);
    expect(() => deploy({ REFRESH_WINDOW_HOURS: "24" })).toThrow(sentence);
  });

  it("REFRESH_CONCURRENCY: the same bounds and the same sentence", () => {
    expect(parseTokenSettings({ REFRESH_CONCURRENCY: "32" }).refreshConcurrency).toBe(32);
    expect(
      deploy({ REFRESH_CONCURRENCY: "32", REFRESH_MAX_WORKERS: "1" }).refresh.concurrency,
    ).toBe(32);
    const sentence = 'REFRESH_CONCURRENCY must be a whole number from 1 to 32, got "33".';
    expect(() => parseTokenSettings({ REFRESH_CONCURRENCY: "33" })).toThrow(sentence);
    expect(() => deploy({ REFRESH_CONCURRENCY: "33" })).toThrow(sentence);
  });
});

describe("the settings leaf", () => {
  it("bundles without any AWS SDK module (the database URL's resolution is core/database-url)", async () => {
    const result = await build({
      ...lambdaBuildOptions({ entry: "core/config/index.ts", outfile: "config.mjs", write: false }),
      metafile: true,
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs).toContain("core/config/settings.ts");
    expect(inputs.filter((path) => /node_modules\/@(aws-sdk|smithy)\//.test(path))).toEqual([]);
  });
});

import { describe, expect, it } from "vitest";
import {
  type BundledFunction,
  FUNCTIONS,
  isSdkInput,
  measureBundle,
  OWN_SHARE_GOAL_KB,
  packageOf,
} from "../../bench/bundles";

describe("bundle measurement", () => {
  it("counts the AWS SDK and the helpers only it pulls in as the SDK's share", () => {
    expect(isSdkInput("node_modules/@aws-sdk/client-kms/dist-es/index.js")).toBe(true);
    expect(isSdkInput("node_modules/@smithy/core/dist-es/index.js")).toBe(true);
    expect(isSdkInput("node_modules/@aws-sdk/x/node_modules/fast-xml-parser/src/a.js")).toBe(true);
    expect(isSdkInput("node_modules/postgres/src/index.js")).toBe(false);
    expect(isSdkInput("core/config/database-url.ts")).toBe(false);
  });

  it("names the package an input comes from, nested or scoped", () => {
    expect(packageOf("node_modules/zod/v4/mini/index.js")).toBe("zod");
    expect(packageOf("node_modules/@hono/node-server/dist/index.mjs")).toBe("@hono/node-server");
    expect(packageOf("core/db/index.ts")).toBe("(ours)");
  });

  // Deterministic sizes, not timings: esbuild bundles each function as SST does.
  it.each(Object.keys(FUNCTIONS) as BundledFunction[])(
    "the %s function's own share (ours, not the AWS SDK's) stays under the budget",
    async (name) => {
      const measure = await measureBundle(FUNCTIONS[name]);
      expect(measure.sdkBytes + measure.ownBytes).toBe(measure.totalBytes);
      expect(measure.ownByPackage.map((part) => part.name)).toContain("(ours)");
      expect(
        measure.ownBytes / 1024,
        `${name}: ${(measure.ownBytes / 1024).toFixed(1)} KB`,
      ).toBeLessThan(OWN_SHARE_GOAL_KB);
    },
  );
});

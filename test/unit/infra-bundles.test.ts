import { describe, expect, it } from "vitest";
import { isSdkInput, measureBundle, packageOf } from "../../bench/bundles";

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

  it("splits a real bundle that uses Secrets Manager into a large SDK share and a small own share", async () => {
    const measure = await measureBundle("core/config/database-url.ts");
    expect(measure.sdkBytes).toBeGreaterThan(100 * 1024);
    expect(measure.ownBytes).toBeLessThan(20 * 1024);
    expect(measure.sdkBytes + measure.ownBytes).toBe(measure.totalBytes);
    expect(measure.ownByPackage[0]?.name).toBe("(ours)");
  });
});

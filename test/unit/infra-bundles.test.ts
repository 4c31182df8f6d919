import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  type BundledFunction,
  coldImportMs,
  FUNCTIONS,
  isSdkInput,
  measureBundle,
  median,
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
  // The 150 KB own-share budget is retired (issue 20): the share is reported
  // for information; what is checked is that the bundle is whole and unpatched.
  it.each(Object.keys(FUNCTIONS) as BundledFunction[])(
    "the %s function bundles whole: its shares add up, our code is in it, gzip is smaller",
    async (name) => {
      const measure = await measureBundle(FUNCTIONS[name]);
      expect(measure.sdkBytes + measure.ownBytes).toBe(measure.totalBytes);
      expect(measure.ownByPackage.map((part) => part.name)).toContain("(ours)");
      expect(measure.gzipBytes).toBeGreaterThan(0);
      expect(measure.gzipBytes).toBeLessThan(measure.totalBytes);
    },
  );
});

describe("cold import timing", () => {
  it("takes the middle value, or the mean of the two middle ones", () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it("imports a built file in a fresh process and reports its milliseconds", async () => {
    const dir = await mkdtemp(join(tmpdir(), "import-"));
    const file = join(dir, "slow.mjs");
    await writeFile(file, "const until = Date.now() + 30; while (Date.now() < until);\n");
    try {
      expect(await coldImportMs(file)).toBeGreaterThanOrEqual(29);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("names the file whose import fails", async () => {
    const dir = await mkdtemp(join(tmpdir(), "import-"));
    const file = join(dir, "broken.mjs");
    await writeFile(file, 'throw new Error("init failed");\n');
    try {
      await expect(coldImportMs(file)).rejects.toThrow(
        /broken\.mjs failed \(exit 1\).*init failed/s,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

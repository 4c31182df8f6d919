import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

describe("the indentation plugin", () => {
  it("drops line indentation of core sources, keeping every newline (a SQL -- comment still ends there)", async () => {
    const { trimTemplateIndentation } = await import("../../infra/esbuild-plugins.mjs");
    const dir = await mkdtemp(join(tmpdir(), "indent-"));
    const file = join(dir, "core", "query.ts");
    await mkdir(join(dir, "core"));
    await writeFile(
      file,
      "const q = sql`\n    SELECT 1 -- one\n      FROM t\n`;\n\tconst m = `a\n   b`;\n",
    );
    let load:
      | ((args: { path: string }) => Promise<{ contents: string; loader: string }>)
      | undefined;
    trimTemplateIndentation.setup({
      onLoad: (_options: unknown, callback: typeof load) => {
        load = callback;
      },
    } as never);
    const loaded = await load?.({ path: file });
    expect(loaded).toEqual({
      contents: "const q = sql`\nSELECT 1 -- one\nFROM t\n`;\nconst m = `a\nb`;\n",
      loader: "ts",
    });
    await rm(dir, { recursive: true, force: true });
  });
});

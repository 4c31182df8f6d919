/**
 * `npm run bench -- bundles`: bundles each deployed function the way SST does
 * (esbuild, ESM, platform node, Node 22, everything bundled including the AWS
 * SDK, minified, with infra/esbuild-plugins.mjs) and splits each bundle's bytes into the AWS SDK's share
 * (@aws-sdk, @smithy, @aws-crypto and the helpers they pull in) and ours.
 * Goal: our share under 155 KB for every function. Last line: one JSON object.
 */
import { existsSync } from "node:fs";
import { join, relative } from "node:path";
import { build } from "esbuild";
import bundlePlugins from "../infra/esbuild-plugins.mjs";
import { NODE_TARGET } from "../infra/runtime";

export const FUNCTIONS = {
  migrate: "functions/migrate.ts",
  refresh: "functions/refresh-tokens.ts",
  api: "functions/api.ts",
} as const;
export type BundledFunction = keyof typeof FUNCTIONS;

// Was 150 KB; raised to 155 when the API's pool learned to fail fast in an
// outage (core/db/availability.ts, 2.4 KB) and its body limit became
// hono/body-limit (0.8 KB); the cold-start cost of 3.2 KB is not measured.
export const OWN_SHARE_GOAL_KB = 155;

/** Packages that belong to the AWS SDK or that only it pulls in. */
const SDK_PACKAGES =
  /(?:^|\/)node_modules\/(?:@aws-sdk|@smithy|@aws-crypto|@aws|tslib|fast-xml-parser|strnum|bowser|uuid|obliterator|mnemonist)\//;

export function isSdkInput(path: string): boolean {
  return SDK_PACKAGES.test(path.replaceAll("\\", "/"));
}

/** The package an input belongs to (`@scope/name`, `name`), or `(ours)` for project files. */
export function packageOf(path: string): string {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path.replaceAll("\\", "/"));
  return match?.[1] ?? "(ours)";
}

export interface BundleMeasure {
  totalBytes: number;
  sdkBytes: number;
  ownBytes: number;
  /** Our share by package, largest first. */
  ownByPackage: Array<{ name: string; bytes: number }>;
}

/** Bundles one entry in memory with SST's settings and measures it. */
export async function measureBundle(entry: string, root = process.cwd()): Promise<BundleMeasure> {
  const result = await build({
    entryPoints: [join(root, entry)],
    absWorkingDir: root,
    outfile: join(root, ".bundle-bench", "index.mjs"),
    write: false,
    bundle: true,
    format: "esm",
    platform: "node",
    target: NODE_TARGET,
    mainFields: ["module", "main"],
    minify: true,
    metafile: true,
    logLevel: "silent",
    // The same plugins SST runs (infra/functions.ts `nodejs.plugins`).
    plugins: bundlePlugins,
    // What SST prepends so CommonJS dependencies can `require` in an ES module.
    banner: {
      js: 'import { createRequire as topLevelCreateRequire } from "module"; const require = topLevelCreateRequire(import.meta.url);',
    },
  });
  const output = Object.values(result.metafile.outputs).find((out) => out.entryPoint);
  if (!output) throw new Error(`esbuild produced no output for ${entry}.`);
  let sdkBytes = 0;
  const own = new Map<string, number>();
  for (const [path, input] of Object.entries(output.inputs)) {
    if (isSdkInput(path)) {
      sdkBytes += input.bytesInOutput;
    } else {
      const name = packageOf(relative(root, join(root, path)));
      own.set(name, (own.get(name) ?? 0) + input.bytesInOutput);
    }
  }
  return {
    totalBytes: output.bytes,
    sdkBytes,
    ownBytes: output.bytes - sdkBytes,
    ownByPackage: [...own.entries()]
      .map(([name, bytes]) => ({ name, bytes }))
      .sort((a, b) => b.bytes - a.bytes),
  };
}

const kb = (bytes: number) => Math.round((bytes / 1024) * 10) / 10;

export async function main(_args: string[]): Promise<void> {
  const figures: Record<string, number | null> = {};
  const rows: string[][] = [];
  for (const [name, entry] of Object.entries(FUNCTIONS) as Array<[BundledFunction, string]>) {
    if (!existsSync(entry)) {
      console.log(`${name}: ${entry} does not exist yet, reported as null`);
      figures[`${name}_kb`] = null;
      figures[`${name}_own_kb`] = null;
      continue;
    }
    const measure = await measureBundle(entry);
    figures[`${name}_kb`] = kb(measure.totalBytes);
    figures[`${name}_own_kb`] = kb(measure.ownBytes);
    rows.push([
      name,
      kb(measure.totalBytes).toFixed(1),
      kb(measure.sdkBytes).toFixed(1),
      kb(measure.ownBytes).toFixed(1),
      measure.ownBytes <= OWN_SHARE_GOAL_KB * 1024 ? "ok" : "OVER",
      measure.ownByPackage
        .slice(0, 5)
        .map((part) => `${part.name} ${kb(part.bytes)}`)
        .join(", "),
    ]);
  }
  const header = [
    "function",
    "total KB",
    "AWS SDK KB",
    "own KB",
    `own<${OWN_SHARE_GOAL_KB}`,
    "largest own parts (KB)",
  ];
  const table = [header, ...rows];
  const widths = header.map((_, column) =>
    Math.max(...table.map((row) => (row[column] ?? "").length)),
  );
  for (const row of table) {
    console.log(
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join("  ")
        .trimEnd(),
    );
  }
  console.log(
    JSON.stringify({
      bench: "bundles",
      migrate_kb: figures.migrate_kb,
      refresh_kb: figures.refresh_kb,
      api_kb: figures.api_kb,
      migrate_own_kb: figures.migrate_own_kb,
      refresh_own_kb: figures.refresh_own_kb,
      api_own_kb: figures.api_own_kb,
    }),
  );
}

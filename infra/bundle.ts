/**
 * The esbuild options a Lambda function is bundled with: what SST does with
 * `nodejs: { format: "esm", minify: true }` (infra/functions.ts). SST builds
 * the deploy itself; `npm run bench -- bundles` and the tests that run a
 * bundle build with these, so they measure and run what deploys. No plugin
 * touches a library or our sources.
 */
import type { BuildOptions } from "esbuild";
import { NODE_TARGET } from "./runtime";

/** What SST prepends so CommonJS dependencies can `require` in an ES module. */
export const ESM_REQUIRE_BANNER =
  'import { createRequire as topLevelCreateRequire } from "module"; const require = topLevelCreateRequire(import.meta.url);';

export interface LambdaBundle {
  /** Entry file, relative to the working directory (the project root). */
  entry: string;
  /** Where the bundle goes (kept in memory when `write` is false). */
  outfile: string;
  /** Packages left out; the deploy leaves out none (the AWS SDK is bundled too). */
  external?: string[];
  write?: boolean;
}

export function lambdaBuildOptions(bundle: LambdaBundle): BuildOptions {
  return {
    entryPoints: [bundle.entry],
    outfile: bundle.outfile,
    write: bundle.write ?? true,
    bundle: true,
    format: "esm",
    platform: "node",
    target: NODE_TARGET,
    mainFields: ["module", "main"],
    minify: true,
    logLevel: "silent",
    external: bundle.external ?? [],
    banner: { js: ESM_REQUIRE_BANNER },
  };
}

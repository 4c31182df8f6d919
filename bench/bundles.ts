/**
 * `npm run bench -- bundles`: bundles each deployed function the way SST does
 * (infra/bundle.ts: esbuild, ESM, platform node, Node 22, everything bundled
 * including the AWS SDK, minified) and reports for each:
 * - its cold import time: the median of 15 imports of the built bundle, each
 *   in a fresh Node process (the function's whole init: module evaluation and
 *   its top-level awaits; the API's one Secrets Manager read is refused at
 *   once by a closed local port);
 * - its total and gzip size;
 * - as information, its bytes split into the AWS SDK's share (@aws-sdk,
 *   @smithy, @aws-crypto and the helpers they pull in) and ours.
 * Goal: the API's cold import no slower than 64 ms median on the shared
 * 2-core machine (±10%).
 *
 * `--baseline-plugins <file.mjs>` also builds every function with the esbuild
 * plugins that file exports by default (say, a retired version of the build:
 * `git show <ref>:infra/esbuild-plugins.mjs > /tmp/old.mjs`), imports both
 * builds interleaved in the same run, and reports the ratio, since timings on
 * a shared machine compare only side by side.
 *
 * Last line: one JSON object.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { build, type Plugin } from "esbuild";
import { lambdaBuildOptions } from "../infra/bundle";

export const FUNCTIONS = {
  migrate: "functions/migrate.ts",
  refresh: "functions/refresh-tokens.ts",
  api: "functions/api.ts",
} as const;
export type BundledFunction = keyof typeof FUNCTIONS;

/** Fresh processes per function and build; the median is reported. */
export const IMPORT_RUNS = 15;

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
  gzipBytes: number;
  sdkBytes: number;
  ownBytes: number;
  /** Our share by package, largest first. */
  ownByPackage: Array<{ name: string; bytes: number }>;
}

export interface BundleOptions {
  root?: string;
  /** Where to write the bundle; in memory when absent. */
  outfile?: string;
  /** Extra esbuild plugins (the baseline build only; the deploy has none). */
  plugins?: Plugin[];
}

/** Bundles one entry with SST's settings and measures it. */
export async function measureBundle(
  entry: string,
  options: BundleOptions = {},
): Promise<BundleMeasure> {
  const root = options.root ?? process.cwd();
  const result = await build({
    ...lambdaBuildOptions({
      entry: join(root, entry),
      outfile: options.outfile ?? join(root, ".bundle-bench", "index.mjs"),
      write: options.outfile !== undefined,
    }),
    absWorkingDir: root,
    metafile: true,
    plugins: options.plugins ?? [],
  });
  const [outPath, output] =
    Object.entries(result.metafile.outputs).find(([, out]) => out.entryPoint) ?? [];
  if (!outPath || !output) throw new Error(`esbuild produced no output for ${entry}.`);
  const code =
    result.outputFiles?.find((file) => file.path.endsWith(".mjs"))?.contents ??
    (await readFile(resolve(root, outPath)));
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
    gzipBytes: gzipSync(code).length,
    sdkBytes,
    ownBytes: output.bytes - sdkBytes,
    ownByPackage: [...own.entries()]
      .map(([name, bytes]) => ({ name, bytes }))
      .sort((a, b) => b.bytes - a.bytes),
  };
}

/**
 * What a function's init reads, pointing at nothing that answers: the
 * database is connected lazily, and AWS calls fail at once on a closed port.
 */
export const IMPORT_ENV: Record<string, string> = {
  STAGE: "bench",
  LOG_LEVEL: "silent",
  DATABASE_URL: "postgres://bench@127.0.0.1:1/bench",
  KMS_KEY_ID: "arn:aws:kms:ap-northeast-2:111122223333:key/bench",
  API_KEYS_SECRET_ID: "arn:aws:secretsmanager:ap-northeast-2:111122223333:secret:bench",
  AWS_REGION: "ap-northeast-2",
  AWS_ACCESS_KEY_ID: "bench",
  AWS_SECRET_ACCESS_KEY: "bench",
  AWS_ENDPOINT_URL: "http://127.0.0.1:1",
  AWS_MAX_ATTEMPTS: "1",
};

const IMPORT_SCRIPT = `const started = performance.now();
await import(process.argv[1]);
process.stdout.write("\\nimport_ms " + (performance.now() - started) + "\\n");
process.exit(0);`;

/** Milliseconds to import one bundle in a fresh Node process. */
export function coldImportMs(file: string): Promise<number> {
  return new Promise((done, fail) => {
    const child = spawn(
      process.execPath,
      ["--input-type=module", "-e", IMPORT_SCRIPT, pathToFileURL(file).href],
      { env: { PATH: process.env.PATH ?? "", ...IMPORT_ENV }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk;
    });
    child.stderr.on("data", (chunk: Buffer) => {
      err += chunk;
    });
    child.on("error", fail);
    child.on("close", (code) => {
      const match = /^import_ms (\S+)$/m.exec(out);
      if (code === 0 && match?.[1]) done(Number(match[1]));
      else fail(new Error(`importing ${file} failed (exit ${code}): ${err.trim().slice(-500)}`));
    });
  });
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

const kb = (bytes: number) => Math.round((bytes / 1024) * 10) / 10;
const ms = (value: number) => Math.round(value * 10) / 10;

interface Built {
  name: BundledFunction;
  build: "deploy" | "baseline";
  file: string;
  measure: BundleMeasure;
  times: number[];
}

function parseArgs(args: string[]): { baselinePlugins?: string; runs: number } {
  let baselinePlugins: string | undefined;
  let runs = IMPORT_RUNS;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--baseline-plugins" && args[i + 1]) baselinePlugins = args[++i];
    else if (arg === "--runs" && /^\d+$/.test(args[i + 1] ?? "") && Number(args[i + 1]) > 0)
      runs = Number(args[++i]);
    else
      throw new Error(
        `bench bundles: unknown or incomplete option ${arg}; use --baseline-plugins <file.mjs>, --runs <n>`,
      );
  }
  return { baselinePlugins, runs };
}

export async function main(args: string[]): Promise<void> {
  const { baselinePlugins, runs } = parseArgs(args);
  const baseline = baselinePlugins
    ? ((await import(pathToFileURL(resolve(baselinePlugins)).href)).default as Plugin[])
    : undefined;
  const dir = await mkdtemp(join(tmpdir(), "bench-bundles-"));
  const figures: Record<string, number | null> = {};
  const builds: Built[] = [];
  try {
    for (const [name, entry] of Object.entries(FUNCTIONS) as Array<[BundledFunction, string]>) {
      if (!existsSync(entry)) {
        console.log(`${name}: ${entry} does not exist yet, reported as null`);
        continue;
      }
      const variants = baseline
        ? ([
            ["deploy", []],
            ["baseline", baseline],
          ] as const)
        : ([["deploy", []]] as const);
      for (const [kind, plugins] of variants) {
        const file = join(dir, `${name}-${kind}.mjs`);
        const measure = await measureBundle(entry, { outfile: file, plugins: [...plugins] });
        builds.push({ name, build: kind, file, measure, times: [] });
      }
    }
    // Interleaved, so a busy moment of the shared machine falls on every build alike.
    for (let run = 0; run < runs; run++) {
      for (const built of builds) built.times.push(await coldImportMs(built.file));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  const header = [
    "function",
    "build",
    `import ms (median of ${runs})`,
    "total KB",
    "gzip KB",
    "AWS SDK KB",
    "own KB",
    "largest own parts (KB)",
  ];
  const rows = builds.map((built) => [
    built.name,
    built.build,
    ms(median(built.times)).toFixed(1),
    kb(built.measure.totalBytes).toFixed(1),
    kb(built.measure.gzipBytes).toFixed(1),
    kb(built.measure.sdkBytes).toFixed(1),
    kb(built.measure.ownBytes).toFixed(1),
    built.measure.ownByPackage
      .slice(0, 5)
      .map((part) => `${part.name} ${kb(part.bytes)}`)
      .join(", "),
  ]);
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

  for (const name of Object.keys(FUNCTIONS) as BundledFunction[]) {
    const deploy = builds.find((b) => b.name === name && b.build === "deploy");
    figures[`${name}_import_ms`] = deploy ? ms(median(deploy.times)) : null;
    figures[`${name}_kb`] = deploy ? kb(deploy.measure.totalBytes) : null;
    figures[`${name}_gzip_kb`] = deploy ? kb(deploy.measure.gzipBytes) : null;
    figures[`${name}_own_kb`] = deploy ? kb(deploy.measure.ownBytes) : null;
    const base = builds.find((b) => b.name === name && b.build === "baseline");
    if (deploy && base) {
      const ratio = median(deploy.times) / median(base.times);
      figures[`${name}_baseline_import_ms`] = ms(median(base.times));
      figures[`${name}_baseline_kb`] = kb(base.measure.totalBytes);
      figures[`${name}_baseline_gzip_kb`] = kb(base.measure.gzipBytes);
      figures[`${name}_import_ratio`] = Math.round(ratio * 1000) / 1000;
      console.log(
        `${name}: import ${ms(median(deploy.times))} ms against the baseline's ${ms(median(base.times))} ms (ratio ${figures[`${name}_import_ratio`]}); ` +
          `${kb(deploy.measure.totalBytes - base.measure.totalBytes)} KB raw, ${kb(deploy.measure.gzipBytes - base.measure.gzipBytes)} KB gzip more`,
      );
    }
  }
  console.log(JSON.stringify({ bench: "bundles", runs, ...figures }));
}

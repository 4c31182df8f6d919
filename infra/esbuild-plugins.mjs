// esbuild plugins for the Lambda bundles, used by SST (`nodejs.plugins` in
// infra/functions.ts) and by `npm run bench -- bundles`, so the figures the
// bench reports are the bundles that deploy.
//
// postgres.js imports its logical-replication client (`sql.subscribe`) and its
// large-object helper (`sql.largeObject`) from its entry module, so esbuild
// cannot drop them although the service uses neither: about 5 KB of each
// function's 150 KB own-code budget. This plugin swaps both modules for stubs
// that fail loudly if anything ever calls them.

import { readFile } from "node:fs/promises";

const POSTGRES_UNUSED = /[\\/]node_modules[\\/]postgres[\\/]src[\\/](subscribe|large)\.js$/;

const STUBS = {
  subscribe: `export default function Subscribe() {
  return function subscribe() {
    throw new Error("sql.subscribe is not bundled into the Lambda functions (infra/esbuild-plugins.mjs)");
  };
}`,
  large: `export default function largeObject() {
  throw new Error("sql.largeObject is not bundled into the Lambda functions (infra/esbuild-plugins.mjs)");
}`,
};

/** @type {import("esbuild").Plugin} */
export const dropUnusedPostgresModules = {
  name: "drop-unused-postgres-modules",
  setup(build) {
    build.onLoad({ filter: POSTGRES_UNUSED }, (args) => {
      const which = POSTGRES_UNUSED.exec(args.path)?.[1];
      return { contents: STUBS[which], loader: "js" };
    });
  },
};

// Our sources' SQL sits in template literals, which the minifier must keep
// byte for byte, indentation included: about 1 KB of each bundle that
// Postgres ignores. This plugin drops the spaces and tabs that start a line
// in core/ and functions/ sources before esbuild reads them. Outside template
// literals that whitespace means nothing; inside, only multi-line templates
// have it, and there (SQL, messages) leading indentation carries no meaning.
// Newlines stay, so a `--` comment in SQL still ends where it did.

/** @type {import("esbuild").Plugin} */
export const trimTemplateIndentation = {
  name: "trim-template-indentation",
  setup(build) {
    build.onLoad({ filter: /[\\/](core|functions)[\\/].*\.ts$/ }, async (args) => {
      const source = await readFile(args.path, "utf8");
      return { contents: source.replace(/\n[ \t]+/g, "\n"), loader: "ts" };
    });
  },
};

export default [dropUnusedPostgresModules, trimTemplateIndentation];

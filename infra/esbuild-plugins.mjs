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

// Hono's class methods `app.mount()` (deprecated), `c.req.parseBody()`
// (forms and multipart) and `c.html()` import their helpers from their own
// modules; a class method is never tree-shaken, so all three ship although
// the service calls none of them (about 3 KB of the API's budget, which the
// broker gateway needed). Same treatment: stubs that fail loudly.

const HONO_UNUSED = /[\\/]node_modules[\\/]hono[\\/]dist[\\/]utils[\\/](mount|body|html)\.js$/;

const HONO_STUBS = {
  mount: `export function createMountedRequest() {
  throw new Error("app.mount() is not bundled into the Lambda functions (infra/esbuild-plugins.mjs)");
}`,
  body: `export function parseBody() {
  throw new Error("c.req.parseBody() is not bundled into the Lambda functions (infra/esbuild-plugins.mjs)");
}`,
  html: `export const HtmlEscapedCallbackPhase = { Stringify: 1 };
export function resolveCallback() {
  throw new Error("c.html() of a callback is not bundled into the Lambda functions (infra/esbuild-plugins.mjs)");
}`,
};

/** @type {import("esbuild").Plugin} */
export const dropUnusedHonoModules = {
  name: "drop-unused-hono-modules",
  setup(build) {
    build.onLoad({ filter: HONO_UNUSED }, (args) => {
      const which = HONO_UNUSED.exec(args.path)?.[1];
      return { contents: HONO_STUBS[which], loader: "js" };
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

// zod keeps `.meta()` / `.describe()` data (ids and descriptions for the
// OpenAPI document, which `npm run openapi` builds outside the bundle) in a
// global registry. Nothing in a function reads it back, so the bundled
// registry only accepts and forgets (about 0.7 KB).

const ZOD_REGISTRIES = /[\\/]node_modules[\\/]zod[\\/]v4[\\/]core[\\/]registries\.js$/;

const ZOD_REGISTRY_STUB = `export const $output = Symbol("ZodOutput");
export const $input = Symbol("ZodInput");
export class $ZodRegistry {
  add() { return this; }
  get() { return undefined; }
  has() { return false; }
}
export function registry() { return new $ZodRegistry(); }
export const globalRegistry = registry();`;

/** @type {import("esbuild").Plugin} */
export const forgetZodMetadata = {
  name: "forget-zod-metadata",
  setup(build) {
    build.onLoad({ filter: ZOD_REGISTRIES }, () => ({ contents: ZOD_REGISTRY_STUB, loader: "js" }));
  },
};

// postgres.js hangs its column-name case transforms (postgres.camel,
// toPascal, fromKebab…) on its exported function, so they ship although the
// service sets no `transform` (about 0.9 KB). The tail of its types.js that
// defines them is swapped for stubs that fail loudly; postgres is pinned, and
// the marker check below fails the build if that file ever changes shape.

const POSTGRES_TYPES = /[\\/]node_modules[\\/]postgres[\\/]src[\\/]types\.js$/;
const CASE_TRANSFORMS_START = "export const toCamel = x => {";
const CASE_TRANSFORMS_STUB = `const caseTransformsNotBundled = () => {
  throw new Error("postgres.js case transforms are not bundled into the Lambda functions (infra/esbuild-plugins.mjs)");
};
export const toCamel = caseTransformsNotBundled, toPascal = caseTransformsNotBundled,
  toKebab = caseTransformsNotBundled, fromCamel = caseTransformsNotBundled,
  fromPascal = caseTransformsNotBundled, fromKebab = caseTransformsNotBundled,
  camel = {}, pascal = {}, kebab = {};
`;

/** @type {import("esbuild").Plugin} */
export const dropPostgresCaseTransforms = {
  name: "drop-postgres-case-transforms",
  setup(build) {
    build.onLoad({ filter: POSTGRES_TYPES }, async (args) => {
      const source = await readFile(args.path, "utf8");
      const start = source.indexOf(CASE_TRANSFORMS_START);
      if (start < 0) throw new Error(`${args.path} no longer has ${CASE_TRANSFORMS_START}`);
      return { contents: source.slice(0, start) + CASE_TRANSFORMS_STUB, loader: "js" };
    });
  },
};

// postgres.js's `sql.listen()` (LISTEN with its own reconnecting
// connection) and `sql.notify()` are closures of the function every pool is
// built by, so they ship although no function listens or notifies (about
// 0.8 KB, which the gateway's audit written after each answer needed). The
// two are swapped for stubs that fail loudly, between markers checked like
// the case transforms' (postgres is pinned).

const POSTGRES_INDEX = /[\\/]node_modules[\\/]postgres[\\/]src[\\/]index\.js$/;
const LISTEN_START = "  async function listen(name, fn, onlisten) {";
const LISTEN_END = "  async function reserve() {";
const LISTEN_STUB = `  async function listen() {
    throw new Error("sql.listen is not bundled into the Lambda functions (infra/esbuild-plugins.mjs)");
  }

  async function notify() {
    throw new Error("sql.notify is not bundled into the Lambda functions (infra/esbuild-plugins.mjs)");
  }

`;

/** @type {import("esbuild").Plugin} */
export const dropPostgresListen = {
  name: "drop-postgres-listen",
  setup(build) {
    build.onLoad({ filter: POSTGRES_INDEX }, async (args) => {
      const source = await readFile(args.path, "utf8");
      const start = source.indexOf(LISTEN_START);
      const end = source.indexOf(LISTEN_END);
      if (start < 0 || end < start) {
        throw new Error(`${args.path} no longer has ${LISTEN_START} before ${LISTEN_END}`);
      }
      return { contents: source.slice(0, start) + LISTEN_STUB + source.slice(end), loader: "js" };
    });
  },
};

export default [
  dropUnusedPostgresModules,
  dropPostgresCaseTransforms,
  dropPostgresListen,
  dropUnusedHonoModules,
  forgetZodMetadata,
  trimTemplateIndentation,
];

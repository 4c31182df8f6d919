// esbuild plugins for the Lambda bundles, used by SST (`nodejs.plugins` in
// infra/functions.ts) and by `npm run bench -- bundles`, so the figures the
// bench reports are the bundles that deploy.
//
// postgres.js imports its logical-replication client (`sql.subscribe`) and its
// large-object helper (`sql.largeObject`) from its entry module, so esbuild
// cannot drop them although the service uses neither: about 5 KB of each
// function's 150 KB own-code budget. This plugin swaps both modules for stubs
// that fail loudly if anything ever calls them.

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

// postgres.js sends a tagged template's text as written, and the minifier
// leaves template text alone, so the indentation of every multi-line query
// ships in the bundle (about 2 KB of the API's). This plugin drops the
// spaces and tabs that start a line inside `sql`/`tx`/`db` tagged templates
// of our own code: Postgres reads the same statement, line breaks (which end
// `--` comments) stay.

const OWN_SOURCE = /[\\/](?:core|functions)[\\/].*\.ts$/;
const SQL_TAG = /(?<![\w$.])(?:sql|tx|db)(?:<[^`]*?>)?`/g;

/** Index just past the template literal whose opening backtick is at `start`, collapsing indentation in its text. */
function collapseTemplate(source, start, out) {
  let i = start + 1;
  let text = "";
  const flush = () => {
    out.push(text.replace(/\n[ \t]+/g, "\n"));
    text = "";
  };
  out.push("`");
  while (i < source.length) {
    const ch = source[i];
    if (ch === "\\") {
      text += source.slice(i, i + 2);
      i += 2;
    } else if (ch === "`") {
      flush();
      out.push("`");
      return i + 1;
    } else if (ch === "$" && source[i + 1] === "{") {
      flush();
      const end = skipExpression(source, i + 2);
      out.push(source.slice(i, end));
      i = end;
    } else {
      text += ch;
      i += 1;
    }
  }
  throw new Error("unterminated template literal");
}

/** Index just past the `}` closing an expression that starts at `start`, skipping strings and nested templates. */
function skipExpression(source, start) {
  let depth = 1;
  let i = start;
  while (i < source.length) {
    const ch = source[i];
    if (ch === "'" || ch === '"') {
      i += 1;
      while (source[i] !== ch) i += source[i] === "\\" ? 2 : 1;
      i += 1;
    } else if (ch === "`") {
      i = collapseTemplate(source, i, []);
    } else {
      if (ch === "{") depth += 1;
      if (ch === "}" && --depth === 0) return i + 1;
      i += 1;
    }
  }
  throw new Error("unterminated template expression");
}

/** The source with the indentation inside its SQL tagged templates removed. */
export function collapseSqlIndentation(source) {
  const out = [];
  let last = 0;
  SQL_TAG.lastIndex = 0;
  for (let match = SQL_TAG.exec(source); match; match = SQL_TAG.exec(source)) {
    const tick = match.index + match[0].length - 1;
    if (tick < last) continue;
    out.push(source.slice(last, tick));
    last = collapseTemplate(source, tick, out);
    SQL_TAG.lastIndex = last;
  }
  out.push(source.slice(last));
  return out.join("");
}

/** @type {import("esbuild").Plugin} */
export const collapseSqlTemplates = {
  name: "collapse-sql-templates",
  setup(build) {
    build.onLoad({ filter: OWN_SOURCE }, async (args) => {
      if (args.path.includes("node_modules")) return undefined;
      const { readFile } = await import("node:fs/promises");
      return { contents: collapseSqlIndentation(await readFile(args.path, "utf8")), loader: "ts" };
    });
  },
};

export default [dropUnusedPostgresModules, collapseSqlTemplates];

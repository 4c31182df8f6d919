/**
 * `npm run migrate -- status|plan|up|down [--to N] [--no-backup] [--allow-out-of-order]`
 * Runs the migration runner against DATABASE_URL, or the embedded Postgres
 * under DATA_DIR. Prints NOTICE lines as they arrive, then the report; the
 * exit code is 0 only when the action succeeded.
 */
import { parseArgs } from "node:util";
import {
  findOnPath,
  type MigrationAction,
  type MigrationReport,
  migrate,
} from "../core/migrations";
import { type DevDatabase, openDevDatabase } from "./database";

const USAGE =
  "usage: npm run migrate -- status|plan|up|down [--to N] [--no-backup] [--allow-out-of-order] [--json]";
const ACTIONS: MigrationAction[] = ["status", "plan", "up", "down"];

function fail(message: string): never {
  console.error(`migrate: ${message}`);
  console.error(USAGE);
  process.exit(2);
}

const { positionals, values } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        to: { type: "string" },
        "no-backup": { type: "boolean", default: false },
        "allow-out-of-order": { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        "migrations-dir": { type: "string" },
      },
    });
  } catch (error) {
    return fail((error as Error).message);
  }
})();

const action = positionals[0] as MigrationAction | undefined;
if (!action || !ACTIONS.includes(action) || positionals.length > 1) {
  fail(action ? `unknown action "${positionals.join(" ")}"` : "no action given");
}
let to: number | undefined;
if (values.to !== undefined) {
  if (!/^\d+$/.test(values.to)) fail(`--to must be a migration version number, got "${values.to}"`);
  to = Number(values.to);
}

const dataDir = process.env.DATA_DIR || ".data";
let database: DevDatabase;
try {
  database = await openDevDatabase({ databaseUrl: process.env.DATABASE_URL, dataDir });
} catch (error) {
  console.error(`migrate: ${(error as Error).message}`);
  process.exit(1);
}
if (database.joinedPid && !values.json) {
  console.log(`using the running embedded Postgres (process ${database.joinedPid})`);
}

const report = await migrate({
  databaseUrl: database.url,
  action,
  to,
  backup: !values["no-backup"],
  allowOutOfOrder: values["allow-out-of-order"],
  pgDump: await findOnPath("pg_dump", process.env.PATH ?? ""),
  dataDir,
  ...(values["migrations-dir"] ? { migrationsDir: values["migrations-dir"] } : {}),
  onNotice: values.json ? undefined : (line) => console.log(`  ${line}`),
});
await database.stop();

if (values.json) console.log(JSON.stringify(report, null, 2));
else printReport(report);
process.exit(report.ok ? 0 : 1);

function printReport(r: MigrationReport): void {
  console.log("");
  console.log(`${r.action} on ${r.database}: ${r.ok ? "ok" : "FAILED"} in ${r.durationMs} ms`);
  if (r.backup?.kind === "pg_dump")
    console.log(`backup: ${r.backup.path} (${r.backup.bytes} bytes)`);
  if (r.action === "status" || r.action === "plan") {
    for (const s of r.status ?? []) {
      const when = s.appliedAt ? ` ${s.appliedAt} (${s.durationMs ?? "?"} ms)` : "";
      console.log(`  ${String(s.version).padStart(4, "0")} ${s.name.padEnd(32)} ${s.state}${when}`);
    }
  }
  if (r.action === "plan") {
    if (!r.plan?.length) console.log("nothing to apply");
    for (const p of r.plan ?? []) {
      console.log(`\n-- ${p.direction} ${p.file}${p.transactional ? "" : " (no transaction)"}`);
      console.log(p.sql.trimEnd());
    }
  }
  for (const a of r.applied) {
    console.log(
      `  ${a.direction} ${String(a.version).padStart(4, "0")} ${a.name}: ${a.durationMs} ms${a.attempts > 1 ? ` (${a.attempts} attempts)` : ""}`,
    );
  }
  for (const c of r.verification?.checks ?? []) {
    if (!c.ok || c.name.startsWith("plan:"))
      console.log(`  ${c.ok ? "✓" : "✗"} ${c.name}: ${c.detail}`);
  }
  if (r.verification) {
    const passed = r.verification.checks.filter((c) => c.ok).length;
    console.log(`verification: ${passed}/${r.verification.checks.length} checks passed`);
  }
  for (const w of r.warnings) console.log(`warning: ${w}`);
  if (r.error) console.error(`error: ${r.error.message}`);
}

import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { toolOnPath } from "../support/tools";

// The script needs jq (as the deploy machine does); skipped only where jq is
// not installed, and never under CI=true (toolOnPath throws there).
const hasJq = toolOnPath("jq") !== undefined;
const stubDir = mkdtempSync(join(tmpdir(), "migrate-script-"));
afterAll(() => rmSync(stubDir, { recursive: true, force: true }));

// A stand-in for the AWS CLI: writes STUB_REPORT to the outfile (the last
// argument), prints STUB_META as `aws lambda invoke` prints its metadata, and
// records its arguments.
writeFileSync(
  join(stubDir, "aws"),
  `#!/usr/bin/env bash
printf '%s\\n' "$@" > "${stubDir}/args"
printf '%s' "$STUB_REPORT" > "\${@: -1}"
printf '%s' "$STUB_META"
`,
);
chmodSync(join(stubDir, "aws"), 0o755);

function runMigrate(report: string, meta: string, ...args: string[]) {
  const result = spawnSync("scripts/migrate-deployed.sh", args, {
    encoding: "utf8",
    env: {
      ...process.env,
      PATH: `${stubDir}:${process.env.PATH}`,
      MIGRATE_FUNCTION_NAME: "securities-support-ci-Migrate",
      STUB_REPORT: report,
      STUB_META: meta,
    },
  });
  const invoked = readFileSync(join(stubDir, "args"), "utf8").trim().split("\n");
  return { status: result.status, stderr: result.stderr, invoked };
}

describe.skipIf(!hasJq)(
  `scripts/migrate-deployed.sh${hasJq ? "" : " (skipped: jq is not installed)"}`,
  () => {
    it("invokes the migrate function once with up and passes when the report is ok", () => {
      const run = runMigrate('{"ok":true,"applied":[]}', '{"StatusCode":200}');
      expect(run.status).toBe(0);
      expect(run.invoked).toEqual(
        expect.arrayContaining([
          "--function-name",
          "securities-support-ci-Migrate",
          '{"action":"up"}',
        ]),
      );
      expect(run.invoked[run.invoked.indexOf("--cli-read-timeout") + 1]).toBe("960");
    });

    it("fails the job when the report says the migration failed", () => {
      const run = runMigrate('{"ok":false,"error":"checksum mismatch"}', '{"StatusCode":200}');
      expect(run.status).toBe(1);
      expect(run.stderr).toContain("the migration failed");
    });

    it("fails the job when the function itself crashed", () => {
      const run = runMigrate(
        '{"errorMessage":"Task timed out"}',
        '{"StatusCode":200,"FunctionError":"Unhandled"}',
      );
      expect(run.status).toBe(1);
      expect(run.stderr).toContain("Unhandled");
    });

    it("sends another action when one is given, for plan or rollback", () => {
      const run = runMigrate('{"ok":true}', '{"StatusCode":200}', '{"action":"down","to":"0004"}');
      expect(run.status).toBe(0);
      expect(run.invoked).toContain('{"action":"down","to":"0004"}');
    });
  },
);

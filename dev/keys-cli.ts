/**
 * `npm run keys -- rotate | rewrap [options]`: master key rotation and data
 * key retirement for the encrypted columns (core/crypto, core/accounts);
 * `npm run keys -- api …`: the API's caller keys (dev/api-keys-cli.ts).
 */

import { parseArgs } from "node:util";
import { ENCRYPTED_COLUMNS } from "../core/accounts";
import { wholeNumber } from "../core/config";
import {
  createCipher,
  createKeyProvider,
  DATA_KEY_RETIRE_MARGIN_MS,
  parseCryptoSettings,
  retireUnusedDataKeys,
  rewrapRows,
  rotateMasterKey,
} from "../core/crypto";
import { createSql, redactDatabaseUrl } from "../core/db";
import { API_KEYS_HELP, runApiKeysCommand, UsageError } from "./api-keys-cli";
import { openDevDatabase } from "./database";

const HELP = `usage: npm run keys -- <command> [options]

commands:
  rotate    Re-wrap every data key in data_keys under the current master key
            (KMS_KEY_ID with KMS ReEncrypt, or the local key; older local keys
            go in LOCAL_PREVIOUS_MASTER_KEYS). Rows are not touched.
  rewrap    Re-encrypt every encrypted column (${ENCRYPTED_COLUMNS.map((c) => `${c.table}.${c.column}`).join(", ")})
            under a fresh data key, in batches, each row updated only if it did
            not change meanwhile. Then data keys nothing refers to are retired
            once older than DATA_KEY_MAX_AGE_SECONDS plus 6 hours (the database's
            created_at), and deleted by a later run at least 6 hours after, if
            nothing refers to them then. Safe while the service runs. Prints a
            progress line per batch.

rewrap options:
  --below <id>                 re-encrypt only values under data keys with ids below <id>
                               (default: every key existing at start; printed, pass it to resume)
  --batch-size <n>             rows per batch (default 500)
  --migrate-legacy-plaintext   also encrypt plaintext api_key/api_secret written by the legacy
                               crypto trading system. WARNING: the legacy system reads these
                               columns directly and cannot read encrypted values; migrate only
                               once nothing legacy reads them.
  --keep-old-keys              do not retire or delete unreferenced data keys afterwards

${API_KEYS_HELP}

environment: DATABASE_URL (else embedded Postgres under DATA_DIR/pg), DATA_DIR (default .data),
KMS_KEY_ID, LOCAL_MASTER_KEY, LOCAL_PREVIOUS_MASTER_KEYS, DATA_KEY_MAX_AGE_SECONDS, DATA_KEY_MAX_USES`;

async function main(argv: string[]): Promise<number> {
  if (argv[0] === "api") {
    try {
      return await runApiKeysCommand(argv.slice(1), {
        dataDir: process.env.DATA_DIR || ".data",
        env: process.env,
        print: (line) => console.log(line),
      });
    } catch (error) {
      if (
        !(error instanceof UsageError) &&
        (error as { code?: string }).code !== "ERR_PARSE_ARGS_UNKNOWN_OPTION"
      )
        throw error;
      console.error(`keys: ${(error as Error).message}`);
      console.error(API_KEYS_HELP);
      return 2;
    }
  }
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      below: { type: "string" },
      "batch-size": { type: "string" },
      "migrate-legacy-plaintext": { type: "boolean", default: false },
      "keep-old-keys": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const command = positionals[0];
  if (values.help || (command !== "rotate" && command !== "rewrap")) {
    console.log(HELP);
    return values.help ? 0 : 2;
  }
  const settings = parseCryptoSettings(process.env);
  const keys = await createKeyProvider(settings);
  const database = await openDevDatabase({
    ...(process.env.DATABASE_URL ? { databaseUrl: process.env.DATABASE_URL } : {}),
    dataDir: settings.dataDir,
  });
  const sql = createSql(database.url, { max: 4, applicationName: "securities-support keys" });
  console.log(
    `database ${redactDatabaseUrl(database.url)} (${database.joinedPid ? `the running embedded Postgres, process ${database.joinedPid}` : database.kind}); master key ${keys.masterKeyId}`,
  );
  try {
    if (command === "rotate") {
      const result = await rotateMasterKey({
        sql,
        keys,
        onProgress: (done, total) => console.log(`rotate: ${done}/${total} data keys`),
      });
      console.log(
        `rotate: ${result.rewrapped} of ${result.dataKeys} data keys re-wrapped, ${result.changed} changed meanwhile, ${result.failed.length} failed`,
      );
      for (const failure of result.failed)
        console.error(`  data key ${failure.id}: ${failure.message}`);
      return result.failed.length > 0 ? 1 : 0;
    }
    const cipher = createCipher({
      sql,
      keys,
      maxDataKeyAgeMs: settings.maxDataKeyAgeMs,
      maxDataKeyUses: settings.maxDataKeyUses,
    });
    const result = await rewrapRows({
      sql,
      cipher,
      columns: ENCRYPTED_COLUMNS,
      ...(values.below ? { belowDataKeyId: positiveInteger("--below", values.below) } : {}),
      ...(values["batch-size"]
        ? { batchSize: positiveInteger("--batch-size", values["batch-size"]) }
        : {}),
      migrateLegacyPlaintext: values["migrate-legacy-plaintext"],
      onProgress: (p) =>
        console.log(
          `rewrap: ${p.table}.${p.column} up to row ${p.lastRowId}: ${p.scanned} scanned, ${p.rewrapped} re-encrypted`,
        ),
    });
    console.log(
      `rewrap: ${result.scanned} values scanned, ${result.rewrapped} re-encrypted, ${result.legacyMigrated} legacy plaintext encrypted, ` +
        `${result.legacySkipped} legacy plaintext left, ${result.changed} changed meanwhile, ${result.failed.length} failed ` +
        `(resume with --below ${result.belowDataKeyId})`,
    );
    for (const failure of result.failed) console.error(`  ${failure}`);
    if (!values["keep-old-keys"] && result.failed.length === 0) {
      // A running process may keep encrypting with its data key for up to the max age.
      const keys = await retireUnusedDataKeys({
        sql,
        columns: ENCRYPTED_COLUMNS,
        maxDataKeyAgeMs: settings.maxDataKeyAgeMs,
      });
      const list = (ids: number[]) => (ids.length ? ` (${ids.join(", ")})` : "");
      console.log(
        `retire: ${keys.deleted.length} data keys deleted${list(keys.deleted)}, ${keys.retired.length} retired${list(keys.retired)} ` +
          `(deleted by a run at least ${DATA_KEY_RETIRE_MARGIN_MS / 3_600_000} h from now if still unused), ` +
          `${keys.restored.length} back in use${list(keys.restored)}, ${keys.kept} kept`,
      );
    }
    return result.failed.length > 0 ? 1 : 0;
  } finally {
    await sql.end();
    await database.stop();
  }
}

function positiveInteger(name: string, raw: string): number {
  const value = wholeNumber(raw, 1);
  if (value === undefined) {
    throw new Error(`${name} must be a positive whole number, got "${raw}"`);
  }
  return value;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`keys: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);

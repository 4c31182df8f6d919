/**
 * `npm run keys -- api create|list|remove|show-admin`: the API's caller keys,
 * in DATA_DIR's key file (what `npm start` reads) or, with `--secret-id`, in
 * the deployed stack's Secrets Manager secret. Only a key's hash is stored;
 * `create` prints the key itself once.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import {
  type ApiKeyRecord,
  addApiKey,
  parseScopes,
  readApiKeySecret,
  removeApiKey,
  SCOPES,
  writeApiKeySecret,
} from "../core/auth";
import {
  ADMIN_KEY_FILE,
  API_KEYS_FILE,
  readLocalAdminKey,
  readLocalKeys,
  writeLocalKeys,
} from "./api-keys-file";
import { adminKeyLines, readApiUrl } from "./start-banner";

export const API_KEYS_HELP = `api commands (the HTTP API's caller keys):
  api create --name <id> --scopes <scope,…> [--description <text>]
            Make a key, print it once, store only its hash. Scopes: ${SCOPES.join(", ")}.
            A trading server calling the gateway: --scopes accounts:read,tokens:read,broker:call
  api list  The keys' ids, scopes and descriptions (never a hash).
  api remove <id>
  api show-admin
            The admin key npm start generated in DATA_DIR, with its curl line.

  Local by default: DATA_DIR/${API_KEYS_FILE}, which a running npm start re-reads within 5 s.
  --secret-id <arn>   the deployed stack's secret instead (the stack output apiKeysSecretArn,
                      e.g. "$(jq -r .apiKeysSecretArn .sst/outputs.json)"; or API_KEYS_SECRET_ID),
                      with your AWS credentials; the API re-reads it within API_KEYS_CACHE_SECONDS.`;

export interface ApiKeysCliContext {
  dataDir: string;
  env: Record<string, string | undefined>;
  print(line: string): void;
  /** Tests pass one mocked with aws-sdk-client-mock. */
  secretsManager?: SecretsManagerClient;
}

/** A mistake in the command line: printed with the help, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Runs one `api …` command; resolves to the exit code. */
export async function runApiKeysCommand(
  argv: string[],
  context: ApiKeysCliContext,
): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: "string" },
      scopes: { type: "string" },
      description: { type: "string" },
      "secret-id": { type: "string" },
    },
  });
  const [command, ...rest] = positionals;
  const secretId = values["secret-id"] ?? context.env.API_KEYS_SECRET_ID?.trim();
  const store = secretId
    ? secretStore(context.secretsManager ?? new SecretsManagerClient({}), secretId)
    : localStore(context.dataDir);
  const { print } = context;

  switch (command) {
    case "create": {
      if (!values.name) throw new UsageError("api create needs --name <id>");
      if (values.scopes === undefined) throw new UsageError("api create needs --scopes <scope,…>");
      const scopes = parseScopes(values.scopes);
      const made = addApiKey(await store.read(), {
        id: values.name,
        scopes,
        ...(values.description ? { description: values.description } : {}),
      });
      await store.write(made.records);
      print(
        `created the key ${values.name} (${scopes.join(", ")}) in ${store.where}; ${store.when}.`,
      );
      print("The key, shown this once (only its hash is stored):");
      print(`  ${made.key}`);
      return 0;
    }
    case "list": {
      const records = await store.read();
      print(`${records.length} key${records.length === 1 ? "" : "s"} in ${store.where}`);
      for (const record of records) print(describe(record));
      return 0;
    }
    case "remove": {
      const id = rest[0] ?? values.name;
      if (!id) throw new UsageError("api remove needs the key's id");
      await store.write(removeApiKey(await store.read(), id));
      print(`removed the key ${id} from ${store.where}; ${store.when}.`);
      return 0;
    }
    case "show-admin": {
      if (secretId) throw new UsageError("api show-admin shows the local admin key only");
      const key = await readLocalAdminKey(context.dataDir);
      if (!key) {
        print(
          context.env.LOCAL_API_KEY
            ? "The admin key is the one in LOCAL_API_KEY; it is not stored here."
            : `No admin key was kept in ${join(context.dataDir, ADMIN_KEY_FILE)} (made before keys were kept, or by another DATA_DIR): delete ${join(context.dataDir, API_KEYS_FILE)} and run npm start again for a new one.`,
        );
        return 1;
      }
      for (const line of adminKeyLines(key, await readApiUrl(context.dataDir, context.env)))
        print(line);
      return 0;
    }
    default:
      throw new UsageError(
        command
          ? `unknown api command "${command}"`
          : "give an api command: create, list, remove or show-admin",
      );
  }
}

function describe(record: ApiKeyRecord): string {
  return `  ${record.id.padEnd(20)} ${record.scopes.join(",")}${record.description ? `  (${record.description})` : ""}`;
}

interface KeyStoreTarget {
  where: string;
  /** When the API sees a change. */
  when: string;
  read(): Promise<ApiKeyRecord[]>;
  write(records: readonly ApiKeyRecord[]): Promise<void>;
}

function localStore(dataDir: string): KeyStoreTarget {
  return {
    where: join(dataDir, API_KEYS_FILE),
    when: "a running npm start uses it within 5 s",
    read: () => readLocalKeys(dataDir),
    write: (records) => writeLocalKeys(dataDir, records),
  };
}

function secretStore(client: SecretsManagerClient, secretId: string): KeyStoreTarget {
  return {
    where: `the Secrets Manager secret ${secretId}`,
    when: "the API uses it within API_KEYS_CACHE_SECONDS",
    read: () => readApiKeySecret(client, secretId),
    write: (records) => writeApiKeySecret(client, secretId, records),
  };
}

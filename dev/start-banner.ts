/**
 * What `npm start` prints about its admin key, shared with
 * `npm run keys -- api show-admin`, which prints the same lines later.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** Under DATA_DIR: where the last `npm start` served the API. */
const API_URL_FILE = "api-url";

/** The admin key and a curl line to try it. */
export function adminKeyLines(key: string, apiUrl: string): string[] {
  return [
    `  Admin API key   ${key}`,
    `  Try             curl -H "Authorization: Bearer ${key}" ${apiUrl}/accounts`,
  ];
}

/** Notes where npm start serves, for the commands that print a curl line. */
export async function writeApiUrl(dataDir: string, apiUrl: string): Promise<void> {
  await writeFile(join(dataDir, API_URL_FILE), `${apiUrl}\n`);
}

/** Where the last npm start on this DATA_DIR served; else where it would by default. */
export async function readApiUrl(
  dataDir: string,
  env: Record<string, string | undefined>,
): Promise<string> {
  try {
    const url = (await readFile(join(dataDir, API_URL_FILE), "utf8")).trim();
    if (url) return url;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  return `http://${env.HOST || "127.0.0.1"}:${env.PORT || "3000"}`;
}

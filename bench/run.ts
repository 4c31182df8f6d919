/**
 * `npm run bench -- <name>`: runs bench/<name>.ts. Each benchmark prints its
 * figures and, as its last line, one JSON object with the numbers.
 */
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((file) => file.endsWith(".ts") && file !== "run.ts" && !file.startsWith("_"))
  .map((file) => file.slice(0, -3))
  .sort();
const name = process.argv[2];
if (!name || !available.includes(name)) {
  console.error(
    name
      ? `unknown benchmark "${name}": choose one of ${available.join(", ")}`
      : `usage: npm run bench -- <name>, where name is one of ${available.join(", ")}`,
  );
  process.exit(2);
}
const bench = (await import(pathToFileURL(join(here, `${name}.ts`)).href)) as {
  main(args: string[]): Promise<void>;
};
await bench.main(process.argv.slice(3));

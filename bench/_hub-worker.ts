/**
 * One hub process for `bench stream` (bench/stream.ts): the bench's database
 * and master key, the sandbox's URLs, one API key record. Prints
 * `ready <ws url>`; SIGTERM closes it as the container does (leases released).
 */
import { createAuthenticator } from "../core/auth";
import { createBrokerRegistry, parseBrokerSettings } from "../core/brokers";
import { createCipher, createLocalKeyProvider } from "../core/crypto";
import { createSql } from "../core/db";
import { createLogger } from "../core/log";
import { createHub, parseStreamSettings, serveHub } from "../core/stream";
import { createTokenService } from "../core/tokens";

const env = process.env;
const sql = createSql(env.BENCH_DATABASE_URL as string, { max: 4 });
const cipher = createCipher({
  sql,
  keys: createLocalKeyProvider({
    masterKey: Buffer.from(env.BENCH_MASTER_KEY as string, "base64"),
  }),
});
const tokens = createTokenService({
  sql,
  cipher,
  brokers: createBrokerRegistry(parseBrokerSettings(env)),
});
const record = JSON.parse(env.BENCH_KEY_RECORD as string);
const hub = createHub({
  sql,
  cipher,
  tokens,
  auth: createAuthenticator({ description: "bench keys", keys: async () => [record] }),
  settings: parseStreamSettings(env),
  logger: createLogger({ level: (env.BENCH_HUB_LOG_LEVEL as "warn" | undefined) ?? "warn" }),
  owner: env.BENCH_OWNER as string,
});
const server = await serveHub(hub, { port: 0, host: "127.0.0.1" });
console.log(`ready ${server.url}`);
process.on("SIGTERM", () => {
  void server
    .close()
    .then(() => sql.end())
    .then(() => process.exit(0));
});

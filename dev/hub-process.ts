/**
 * A realtime hub in its own process, for running more than one on this
 * machine: the two-hub test (test/e2e/stream-two-hubs.test.ts) and `npm run
 * bench -- stream` spawn it. Its parent gives it HUB_PROCESS_DATABASE_URL,
 * HUB_PROCESS_MASTER_KEY (base64), HUB_PROCESS_KEY_RECORD (one API key
 * record, JSON), HUB_PROCESS_OWNER, and optionally HUB_PROCESS_POOL_MAX (3)
 * and HUB_PROCESS_LOG_LEVEL (`warn`); the brokers' URLs and the STREAM_*
 * settings as the service reads them. Prints `ready <ws url>`; SIGTERM closes
 * it as the container does (leases released).
 */
import { createAuthenticator } from "../core/auth";
import { createLocalKeyProvider } from "../core/crypto";
import { createSql } from "../core/db";
import { createLogger } from "../core/log";
import { composeService, parseServiceSettings } from "../core/service";
import { createHub, parseStreamSettings, serveHub } from "../core/stream";

const env = process.env;
const sql = createSql(env.HUB_PROCESS_DATABASE_URL as string, {
  max: Number(env.HUB_PROCESS_POOL_MAX ?? 3),
});
const { cipher, tokens, gateway } = composeService({
  sql,
  keys: createLocalKeyProvider({
    masterKey: Buffer.from(env.HUB_PROCESS_MASTER_KEY as string, "base64"),
  }),
  settings: parseServiceSettings(env),
});
const record = JSON.parse(env.HUB_PROCESS_KEY_RECORD as string);
const hub = createHub({
  sql,
  cipher,
  tokens,
  gateway,
  auth: createAuthenticator({ description: "hub process keys", keys: async () => [record] }),
  settings: parseStreamSettings(env),
  logger: createLogger({ level: env.HUB_PROCESS_LOG_LEVEL ?? "warn" }),
  owner: env.HUB_PROCESS_OWNER as string,
});
const server = await serveHub(hub, { port: 0, host: "127.0.0.1" });
console.log(`ready ${server.url}`);
process.on("SIGTERM", () => {
  void server
    .close()
    .then(() => gateway.settled())
    .then(() => sql.end())
    .then(() => process.exit(0));
});

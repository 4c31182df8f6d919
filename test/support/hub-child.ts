/**
 * A hub in its own process, for the two-instance test: the test server's
 * database and master key, the sandbox's URLs, one API key record. Prints
 * `ready <ws url>`; SIGTERM closes it as the container does (leases released).
 */
import { createAuthenticator } from "../../core/auth";
import { createBrokerRegistry, parseBrokerSettings } from "../../core/brokers";
import { createCipher, createLocalKeyProvider } from "../../core/crypto";
import { createSql } from "../../core/db";
import { silentLogger } from "../../core/log";
import { createHub, parseStreamSettings, serveHub } from "../../core/stream";
import { createTokenService } from "../../core/tokens";

const env = process.env;
const sql = createSql(env.CHILD_DATABASE_URL as string, { max: 3 });
const cipher = createCipher({
  sql,
  keys: createLocalKeyProvider({
    masterKey: Buffer.from(env.CHILD_MASTER_KEY as string, "base64"),
  }),
});
const tokens = createTokenService({
  sql,
  cipher,
  brokers: createBrokerRegistry(parseBrokerSettings(env)),
});
const record = JSON.parse(env.CHILD_KEY_RECORD as string);
const hub = createHub({
  sql,
  cipher,
  tokens,
  auth: createAuthenticator({ description: "child keys", keys: async () => [record] }),
  settings: parseStreamSettings(env),
  logger: silentLogger,
  owner: env.CHILD_OWNER as string,
});
const server = await serveHub(hub, { port: 0, host: "127.0.0.1" });
console.log(`ready ${server.url}`);
process.on("SIGTERM", () => {
  void server
    .close()
    .then(() => sql.end())
    .then(() => process.exit(0));
});

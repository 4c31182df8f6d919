/**
 * A separate process that asks for one account's token, for the crash test:
 * the parent kills it while the broker holds its issue request, before it
 * can commit. Reads its settings from the environment the parent gives it
 * (CHILD_LEASE_MS: the issuance lease it takes); prints the outcome.
 */
import { createBrokerRegistry, parseBrokerSettings } from "../../core/brokers";
import { createCipher, createLocalKeyProvider } from "../../core/crypto";
import { createSql } from "../../core/db";
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
  settings: { issueLeaseMs: Number(env.CHILD_LEASE_MS ?? 2_000) },
});
await tokens.getValidToken(Number(env.CHILD_ACCOUNT_ID));
console.log("committed");
await sql.end();

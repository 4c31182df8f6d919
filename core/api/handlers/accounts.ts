import {
  createAccount,
  deleteAccount,
  getAccount,
  listAccounts,
  parseCreateAccount,
  parseUpdateAccount,
  toPublicAccount,
  updateAccount,
} from "../../accounts";
import type { ApiDependencies, Handlers } from "../context";
import { accountTypeQuery, cursorQuery, encodeCursor, limitQuery } from "../query";
import { accountId, readJson } from "../request";

/** /accounts and /accounts/{id}: the accounts, redacted. */
export function accountHandlers({
  sql,
  cipher,
  tokens,
}: Pick<ApiDependencies, "sql" | "cipher" | "tokens">) {
  return {
    async listAccounts(c) {
      const type = accountTypeQuery(c.req.queries("type"));
      const limit = limitQuery(c.req.queries("limit"));
      const after = cursorQuery(c.req.queries("cursor"));
      const page = await listAccounts(sql, cipher, {
        limit,
        ...(type ? { type } : {}),
        ...(after ? { after } : {}),
      });
      return c.json({
        accounts: page.accounts.map((item) => ("error" in item ? item : toPublicAccount(item))),
        next_cursor: page.nextAfter === null ? null : encodeCursor(page.nextAfter),
      });
    },
    async createAccount(c) {
      const input = parseCreateAccount(await readJson(c));
      const account = await createAccount(sql, cipher, input);
      c.header("Location", `/accounts/${account.id}`);
      return c.json(toPublicAccount(account), 201);
    },
    async getAccount(c) {
      return c.json(toPublicAccount(await getAccount(sql, cipher, accountId(c))));
    },
    async updateAccount(c) {
      const id = accountId(c);
      const patch = parseUpdateAccount(await readJson(c));
      const result = await updateAccount(sql, cipher, id, patch);
      // New credentials or a deactivation: the stored token goes, and is
      // revoked at the broker unless an account on the same key still holds it.
      if (result.previousCredentials) {
        await tokens.retireToken(
          result.previousCredentials,
          result.deactivated ? "account_deactivated" : "credentials_changed",
        );
      }
      return c.json(toPublicAccount(result.account));
    },
    async deleteAccount(c) {
      const id = accountId(c);
      const deleted = await deleteAccount(sql, cipher, id);
      // After the commit: a broker that is down must not keep the account alive.
      if (deleted.revoke) {
        await tokens.revoke(
          deleted.revoke.credentials,
          deleted.revoke.accessToken,
          "account_deleted",
        );
      }
      return c.body(null, 204);
    },
  } satisfies Partial<Handlers>;
}

import { toFieldIssues } from "../../accounts";
import { ValidationError } from "../../errors";
import type { ApiDependencies, Handlers } from "../context";
import { accountId, readJson } from "../request";
import { invalidateRequestSchema } from "../request-schemas";

/**
 * An account's broker token and websocket key, and the tokens' status. Every
 * read of a secret and every change is logged with the caller's key id.
 */
export function tokenHandlers({ tokens, logger }: Pick<ApiDependencies, "tokens" | "logger">) {
  return {
    async getToken(c) {
      const id = accountId(c);
      const token = await tokens.getValidToken(id, { deadline: c.get("deadline") });
      logger.info(
        { event: "token_read", key_id: c.get("caller")?.keyId, account_id: id },
        "access token read",
      );
      c.header("Cache-Control", "no-store");
      return c.json({
        access_token: token.accessToken,
        token_type: token.tokenType,
        expires_at: token.expiresAt.toISOString(),
      });
    },
    async refreshToken(c) {
      const id = accountId(c);
      const token = await tokens.forceRefresh(id, { deadline: c.get("deadline") });
      logger.info(
        { event: "token_refresh", key_id: c.get("caller")?.keyId, account_id: id },
        "access token refreshed on request",
      );
      return c.json({ token_type: token.tokenType, expires_at: token.expiresAt.toISOString() });
    },
    async invalidateToken(c) {
      const id = accountId(c);
      const raw = await readJson(c);
      const parsed = invalidateRequestSchema.safeParse(raw === undefined ? {} : raw);
      if (!parsed.success) throw new ValidationError(toFieldIssues(parsed.error.issues));
      const result = await tokens.invalidate(id, parsed.data.access_token);
      logger.info(
        {
          event: "token_invalidate",
          key_id: c.get("caller")?.keyId,
          account_id: id,
          invalidated: result.invalidated,
        },
        "access token reported rejected",
      );
      return c.json({ invalidated: result.invalidated });
    },
    async getWebsocketKey(c) {
      const id = accountId(c);
      const key = await tokens.getApprovalKey(id);
      logger.info(
        { event: "websocket_key_read", key_id: c.get("caller")?.keyId, account_id: id },
        "websocket approval key read",
      );
      c.header("Cache-Control", "no-store");
      return c.json({ approval_key: key.approvalKey, expires_at: key.expiresAt.toISOString() });
    },
    async getTokenStatus(c) {
      return c.json(await tokens.status());
    },
  } satisfies Partial<Handlers>;
}

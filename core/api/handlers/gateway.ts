import type { Context } from "hono";
import type { ApiDependencies, AppEnv, Handlers } from "../context";
import { accountId } from "../request";
import { ANSWERED_BY } from "../routes";

/** /accounts/{id}/broker/… and GET /broker/status: calls through the gateway (core/gateway). */
export function gatewayHandlers({ gateway }: Pick<ApiDependencies, "gateway">) {
  async function callBroker(c: Context<AppEnv>): Promise<Response> {
    const id = accountId(c);
    const method = c.req.method === "POST" ? "POST" : "GET";
    const { path } = c.req;
    const query = c.req.url.indexOf("?");
    // The body goes on as it is: the broker judges its own request (and answers its own error).
    const body = method === "POST" ? (await c.req.text()) || undefined : undefined;
    const answer = await gateway.call({
      accountId: id,
      method,
      target: path.slice(path.indexOf("/broker/") + 7) + (query < 0 ? "" : c.req.url.slice(query)),
      header: (name) => c.req.header(name),
      body,
      keyId: c.get("caller")?.keyId,
      deadline: c.get("deadline"),
    });
    return new Response(answer.body, {
      status: answer.status,
      headers: { ...answer.headers, "cache-control": "no-store", [ANSWERED_BY]: "broker" },
    });
  }

  return {
    callBrokerGet: callBroker,
    callBrokerPost: callBroker,
    async getBrokerCallStatus(c) {
      return c.json(await gateway.status());
    },
  } satisfies Partial<Handlers>;
}

import type { ApiDependencies, Handlers } from "../context";
import { accountId } from "../request";

/** /accounts/{id}/orders/{key}: an order sent through the gateway, by its Idempotency-Key. */
export function orderHandlers({ gateway }: Pick<ApiDependencies, "gateway">) {
  return {
    async getOrder(c) {
      const order = await gateway.order(accountId(c), c.req.param("key") ?? "", c.get("deadline"));
      c.header("Cache-Control", "no-store");
      return c.json(order);
    },
  } satisfies Partial<Handlers>;
}

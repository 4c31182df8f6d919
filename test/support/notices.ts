import type { SandboxOrderEvent } from "../../dev/sandbox";
import type { TestServer } from "./server";
import type { StreamClient } from "./stream-client";

/** An account as the sandbox labels its order book and notices. */
interface NoticeAccount {
  appKey: string;
  accountNumber: string;
}

/**
 * An order event of `account` for the sandbox (real environment): by default
 * a whole fill of one share of 005930 at 70,000; `change` says otherwise.
 * The sandbox books it in the account's day orders and sends its notice to
 * a live session, if there is one.
 */
export function orderEvent(
  broker: "KIS" | "KIWOOM",
  account: NoticeAccount,
  change: Partial<SandboxOrderEvent> & { orderNumber: string },
): SandboxOrderEvent {
  return {
    broker,
    environment: "real",
    appKey: account.appKey,
    accountNumber: account.accountNumber,
    symbol: "005930",
    side: "buy",
    status: "filled",
    orderQuantity: 1,
    filledQuantity: 1,
    price: 70_000,
    ...change,
  };
}

/** Polls `check` every 20 ms until it holds; throws after `timeoutMs`. */
export async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A notice event of order `number` (KIS ODER_NO, Kiwoom order_number). */
export const isOrderNotice = (number: string) => (m: Record<string, unknown>) => {
  const fields = (m.fields ?? {}) as Record<string, string>;
  return m.kind === "notice" && (fields.ODER_NO ?? fields.order_number) === number;
};

/**
 * Resolves once the account's notices reach `client`: an accepted (unfilled)
 * probe order `probe` is sent until a live session takes it, then read.
 * Accepted, not filled, so the hub's catch-up from the day orders has
 * nothing of it to add.
 */
export async function noticesLive(
  server: Pick<TestServer, "sandbox">,
  client: StreamClient,
  broker: "KIS" | "KIWOOM",
  account: NoticeAccount,
  probe = "0000099999",
): Promise<void> {
  const event = orderEvent(broker, account, {
    orderNumber: probe,
    status: "booked",
    filledQuantity: 0,
  });
  await until(() => server.sandbox.sandbox.streams.notify(event));
  await client.next(isOrderNotice(probe));
}

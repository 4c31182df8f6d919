import { randomBytes } from "node:crypto";
import { expect } from "vitest";
import type { TestServer } from "./server";

/** A securities account created through the API, with what tests look it up by. */
export interface TestBrokerAccount {
  id: number;
  /** Its app key: the sandbox labels its token, calls and order book with it. */
  appKey: string;
  /** The account number in its securities_config (KIS 8 digits, Kiwoom 10). */
  accountNumber: string;
}

/**
 * POST /accounts for a fresh KIS or Kiwoom account (a new app key each time,
 * so no two tests share a token, a pace or an order book), expecting 201.
 * `config` adds to or replaces the securities_config fields (hts_id, …).
 */
export async function createBrokerAccount(
  server: Pick<TestServer, "call">,
  broker: "KIS" | "KIWOOM",
  options: { environment?: "real" | "paper"; config?: Record<string, unknown> } = {},
): Promise<TestBrokerAccount> {
  const tag = randomBytes(8).toString("hex");
  const environment = options.environment ?? "real";
  const appKey = `${broker === "KIS" ? "PS" : "kw"}${tag}`;
  const accountNumber = broker === "KIS" ? "50123456" : "5012345678";
  const response = await server.call("/accounts", {
    method: "POST",
    body: JSON.stringify({
      name: `${broker} ${environment} ${tag}`,
      account_type: "SECURITIES_STOCK",
      exchange: broker,
      environment,
      api_key: appKey,
      api_secret: `secret-${tag}`,
      securities_config: {
        account_number: accountNumber,
        market_type: "DOMESTIC_STOCK",
        ...(broker === "KIS" ? { product_code: "01" } : {}),
        ...options.config,
      },
    }),
  });
  expect(response.status, await response.clone().text()).toBe(201);
  return { id: ((await response.json()) as { id: number }).id, appKey, accountNumber };
}

import type { Context } from "hono";
import { ValidationError } from "../errors";
import type { AppEnv } from "./context";
import { MalformedJsonError } from "./problems";

/** The largest account id: accounts.id is a SERIAL, a 32-bit Postgres integer. */
export const MAX_ACCOUNT_ID = 2_147_483_647;

/** The request's JSON body; undefined when it is empty or blank. */
export async function readJson(c: Context<AppEnv>): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new MalformedJsonError();
  }
}

/** The `{id}` path parameter as an account id. */
export function accountId(c: Context<AppEnv>): number {
  const raw = c.req.param("id") ?? "";
  const value = Number(raw);
  if (!/^[1-9][0-9]{0,9}$/.test(raw) || value > MAX_ACCOUNT_ID) {
    throw new ValidationError([
      { field: "id", message: `must be a whole number from 1 to ${MAX_ACCOUNT_ID}` },
    ]);
  }
  return value;
}

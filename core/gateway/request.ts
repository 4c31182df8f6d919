import type { Broker, BrokerEnvironment } from "../brokers";
import { ValidationError } from "../errors";

/** Where each broker's REST calls live; anything else (/oauth2/…, /_sandbox/…) is never forwarded. */
const PATH_PREFIXES: Record<Broker, string> = { KIS: "/uapi/", KIWOOM: "/api/" };

/** The broker headers a caller may send; every other header stays here. */
export const FORWARDED_HEADERS: Record<Broker, readonly string[]> = {
  KIS: ["tr_id", "tr_cont", "custtype", "hashkey", "gt_uid"],
  KIWOOM: ["api-id", "cont-yn", "next-key"],
};

/** The broker's answer headers passed back: its content type and the same names (transaction id, paging). */
export const RETURNED_HEADERS = [
  "content-type",
  ...FORWARDED_HEADERS.KIS,
  ...FORWARDED_HEADERS.KIWOOM,
];

/** Segments of letters, digits, `-` and `_` (every KIS and Kiwoom REST path fits), at least two. */
const PATH = /^(\/[\w-]{1,100}){2,20}$/;
/** Query text as a URL carries it (no spaces, quotes or brackets); `%` only as a complete escape. */
const QUERY = /^(?:[\w\-.~!$&'()*+,;=:@/?]|%[\dA-Fa-f]{2}){0,2000}$/;

/**
 * The broker path and query from the part of the URL after `/broker`, or a
 * 400 naming what is wrong. Strict on purpose: segments of plain characters
 * only, so `..`, `%2e%2e`, `%2f`, backslashes, empty segments and the like
 * never reach the broker, and the path must sit under the broker's REST
 * prefix. (Dot segments, literal or as %2e, are resolved by the URL parser
 * before routing; what is checked here is exactly what would be sent.)
 */
export function brokerTarget(broker: Broker, tail: string): { path: string; query: string } {
  const [path = "", query = ""] = tail.split(/\?(.*)/s);
  const prefix = PATH_PREFIXES[broker];
  if (!path.startsWith(prefix) || !PATH.test(path)) {
    throw new ValidationError([
      {
        field: "path",
        message: `must be a broker REST path under ${prefix} of letters, digits, - and _`,
      },
    ]);
  }
  if (!QUERY.test(query)) {
    throw new ValidationError([{ field: "query", message: "must be a plain URL query string" }]);
  }
  return { path, query };
}

/**
 * KIS paper (모의투자) trading tr_ids are the real ones with T, J or C
 * replaced by V; quote ids (FHK…) are the same on both hosts.
 */
export function paperTrId(trId: string): string {
  return /^[TJC]/.test(trId) ? `V${trId.slice(1)}` : trId;
}

/** The caller's allowed broker headers, lower-cased, with a paper KIS tr_id mapped. */
export function forwardedHeaders(
  broker: Broker,
  environment: BrokerEnvironment,
  headers: (name: string) => string | undefined,
): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const name of FORWARDED_HEADERS[broker]) {
    const value = headers(name);
    if (value !== undefined && value !== "") picked[name] = value;
  }
  if (broker === "KIS" && environment === "paper" && picked.tr_id) {
    picked.tr_id = paperTrId(picked.tr_id);
  }
  return picked;
}

/** The transaction a call names: KIS tr_id, Kiwoom api-id. */
export function transactionId(headers: Record<string, string>): string | null {
  return (headers.tr_id ?? headers["api-id"])?.slice(0, 40) ?? null;
}

import {
  BROKER_ADAPTERS,
  type Broker,
  type BrokerCredentials,
  type BrokerEnvironment,
  brokerName,
  RETURNED_ANSWER_HEADERS,
} from "../brokers";
import { type FieldIssue, ValidationError } from "../errors";

// What is particular to each broker (path prefix, headers, tr_id mapping,
// auth headers) is its adapter's `calls` (core/brokers); this file applies
// the rules that hold for every broker.

/**
 * The broker's answer headers passed back: its content type and every
 * adapter's (transaction id, paging). The registry's own list, so that it
 * stays current when a broker registers after this module is loaded.
 */
export const RETURNED_HEADERS: readonly string[] = RETURNED_ANSWER_HEADERS;

/**
 * The contract's free-form query parameter. Its keys are the request's own
 * query names (`?FID_INPUT_ISCD=005930`, form style); openapi-fetch spells
 * an object parameter as a deep object (`broker_query[FID_INPUT_ISCD]=005930`),
 * which is read the same.
 */
export const BROKER_QUERY_PARAM = "broker_query";
const DEEP_OBJECT_NAME = new RegExp(
  `^${BROKER_QUERY_PARAM}(?:\\[|%5B)([^\\[\\]%]+)(?:\\]|%5D)$`,
  "i",
);

/** Query text as a URL carries it (no spaces, quotes or brackets); `%` only as a complete escape. */
const QUERY = /^(?:[\w\-.~!$&'()*+,;=:@/?]|%[\dA-Fa-f]{2}){0,2000}$/;
/** A path segment: letters, digits, `-` and `_` (every KIS and Kiwoom REST path fits). */
const SEGMENT = /^[\w-]{1,100}$/;

/**
 * The broker path and query from the part of the URL after `/broker`, or a
 * 400 naming the path as it came and what is wrong with it. The path's
 * slashes may come plain or percent-encoded (`%2F`: generated clients such
 * as openapi-fetch encode a path parameter whole). Otherwise strict on
 * purpose: segments of plain characters only, so `..`, `%2e%2e`, backslashes,
 * empty segments and the like never reach the broker, and the path must sit
 * under the broker's REST prefix. What is checked is exactly what is sent.
 */
export function brokerTarget(broker: Broker, tail: string): { path: string; query: string } {
  const [seen = "", rawQuery = ""] = tail.split(/\?(.*)/s);
  const path = seen.replace(/%2F/gi, "/");
  const problem = pathProblem(broker, path);
  if (problem) {
    // Never the query (an encoded one included): it may carry an account number.
    const beforeQuery = seen.split(/%3F/i)[0] ?? "";
    const shown = beforeQuery.length > 200 ? `${beforeQuery.slice(0, 200)}…` : beforeQuery;
    throw new ValidationError([{ field: "path", message: `${JSON.stringify(shown)} ${problem}` }]);
  }
  const query = brokerQuery(rawQuery);
  if (!QUERY.test(query)) {
    // Named by what is wrong, never quoted: a query may carry an account number.
    throw new ValidationError([
      {
        field: "query",
        message:
          "must be a plain URL query string: no spaces, quotes or brackets (but broker_query[NAME]), every % a complete escape, at most 2000 characters",
      },
    ]);
  }
  return { path, query };
}

/** What is wrong with a decoded broker path, in words; undefined when nothing is. */
function pathProblem(broker: Broker, path: string): string | undefined {
  const prefix = BROKER_ADAPTERS[broker].calls.pathPrefix;
  if (!path.startsWith(prefix)) {
    return `is not under ${prefix}, where ${brokerName(broker)}'s REST calls live (nothing else is forwarded)`;
  }
  if (/%3F/i.test(path)) {
    return "holds an encoded ? (%3F): the broker's query goes in the request's own query string (broker_query), not in the path";
  }
  const segments = path.slice(1).split("/");
  if (segments.some((segment) => segment === "")) return "has an empty segment (// or a final /)";
  if (segments.some((segment) => segment === "." || segment === "..")) {
    return "has a dot segment (. or ..)";
  }
  const odd = segments.find((segment) => !SEGMENT.test(segment));
  if (odd !== undefined) {
    return `has the segment ${JSON.stringify(odd.slice(0, 100))}: segments hold only letters, digits, - and _ (no %-escapes but %2F for a slash)`;
  }
  if (segments.length < 2 || segments.length > 20) {
    return `has ${segments.length} segments; a broker path has 2 to 20`;
  }
  return undefined;
}

/** The query sent to the broker: the request's own, with `broker_query[NAME]` read as NAME. */
function brokerQuery(raw: string): string {
  if (raw === "") return "";
  return raw
    .split("&")
    .map((part) => {
      const equals = part.indexOf("=");
      const name = equals < 0 ? part : part.slice(0, equals);
      const inner = DEEP_OBJECT_NAME.exec(name)?.[1];
      return inner === undefined ? part : `${inner}${equals < 0 ? "" : part.slice(equals)}`;
    })
    .join("&");
}

/** Visible ASCII and spaces: no tab, line break or other control character, nothing beyond ASCII. */
const PLAIN_VALUE = /^[\x20-\x7e]*$/;

/**
 * The caller's allowed broker headers, lower-cased, with the transaction id
 * mapped for the account's environment (KIS paper twins), or a 400 naming
 * the header and the account's environment: a missing transaction id, one
 * the environment does not serve, a header sent twice (Node and API Gateway
 * join repeats with ", ", so a comma is read as a repeat) or holding a
 * control character. Checked before any call slot is taken.
 */
export function forwardedHeaders(
  broker: Broker,
  environment: BrokerEnvironment,
  headers: (name: string) => string | undefined,
): Record<string, string> {
  const rules = BROKER_ADAPTERS[broker].calls;
  const account = `this account is ${brokerName(broker)} ${environment}`;
  const picked: Record<string, string> = {};
  const issues: FieldIssue[] = [];
  for (const name of Object.keys(rules.forwardedHeaders)) {
    const value = headers(name);
    if (value === undefined || value === "") continue;
    if (!PLAIN_VALUE.test(value)) {
      issues.push({
        field: name,
        message: `holds a control or non-ASCII character (a tab, a line break…): send plain text (${account})`,
      });
    } else if (value.includes(",")) {
      issues.push({
        field: name,
        message: `was sent more than once (or holds a comma): send it once (${account})`,
      });
    } else {
      picked[name] = value;
    }
  }
  if (issues.length > 0) throw new ValidationError(issues);
  const header = rules.transactionHeader;
  const given = picked[header];
  if (given === undefined) {
    throw new ValidationError([
      {
        field: header,
        message: `is required: it names the ${brokerName(broker)} transaction to call (${account})`,
      },
    ]);
  }
  const verdict = rules.transactionIdFor(given, environment);
  if ("refused" in verdict) {
    throw new ValidationError(
      [{ field: header, message: verdict.refused }],
      undefined,
      verdict.code,
    );
  }
  picked[header] = verdict.id;
  return picked;
}

/** The headers of a call without the bearer token: the broker's defaults, the caller's, its auth headers. */
export function callHeaders(
  broker: Broker,
  forwarded: Readonly<Record<string, string>>,
  credentials: Pick<BrokerCredentials, "appKey" | "appSecret">,
): Record<string, string> {
  return BROKER_ADAPTERS[broker].calls.callHeaders(forwarded, credentials);
}

/** The transaction a call names (KIS tr_id, Kiwoom api-id), as the audit's 40 characters hold it. */
export function transactionId(headers: Record<string, string>): string | null {
  for (const adapter of Object.values(BROKER_ADAPTERS)) {
    const id = headers[adapter.calls.transactionHeader];
    if (id !== undefined) return id.slice(0, 40);
  }
  return null;
}

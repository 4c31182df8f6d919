import type {
  BrokerEnvironment,
  BrokerQuery,
  DayOrder,
  DayOrdersCursor,
  DayOrdersFilter,
  OrderDesk,
} from "../brokers";
import type { BrokerCall } from "../gateway";
import type { CallLane, Exchange } from "../gateway/gateway";

/** Day-order pages read at most per query (KIS and Kiwoom page 100 rows). */
const MAX_PAGES = 20;

/** One page's answer, as the gateway's own query returns it. */
export interface DayOrdersPage {
  headers: Headers;
  body: unknown;
  failed: boolean;
}

/**
 * Every page of one day-orders query on Korea date `date`, sent with `run`
 * (paced and audited by the caller). Undefined when a page could not be read
 * or the pages did not end within MAX_PAGES: an incomplete day is never
 * taken for the whole day.
 */
export async function readDayOrderPages(
  desk: OrderDesk,
  environment: BrokerEnvironment,
  filter: DayOrdersFilter,
  date: string,
  run: (query: BrokerQuery) => Promise<DayOrdersPage>,
): Promise<DayOrder[] | undefined> {
  const rows: DayOrder[] = [];
  let cursor: DayOrdersCursor | undefined;
  for (let pages = 0; pages < MAX_PAGES; pages++) {
    const answer = await run(desk.dayOrdersQuery(environment, filter, date, cursor));
    const read = answer.failed ? undefined : desk.readDayOrders(answer.headers, answer.body);
    if (!read) return undefined;
    rows.push(...read.rows);
    cursor = read.next;
    if (!cursor) return rows;
  }
  return undefined;
}

/** The gateway's exchange, as the service's own queries use it. */
type QueryExchange = (
  request: BrokerCall,
  target: { path: string; query: string },
  lane: CallLane,
) => Promise<Exchange>;

/**
 * One of the service's own queries (reconciliation's, the hub's catch-up)
 * through the gateway's exchange, in the query lane under the account's app
 * key, with no caller's key: its page, and the exchange (whose audit row the
 * caller writes).
 */
export async function exchangeQuery(
  exchange: QueryExchange,
  accountId: number,
  query: BrokerQuery,
  deadline?: Date,
): Promise<{ page: DayOrdersPage; done: Exchange }> {
  const done = await exchange(
    {
      accountId,
      method: query.method,
      target: query.path,
      header: (name) => query.headers[name],
      body: query.body,
      keyId: undefined,
      deadline,
    },
    { path: query.path, query: query.query },
    "query",
  );
  const page = {
    headers: new Headers(done.answer?.headers ?? {}),
    body: done.body,
    failed: !done.answer || done.error !== undefined,
  };
  return { page, done };
}

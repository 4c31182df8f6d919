import type {
  BrokerEnvironment,
  BrokerQuery,
  DayOrder,
  DayOrdersCursor,
  DayOrdersFilter,
  OrderDesk,
} from "../brokers";

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

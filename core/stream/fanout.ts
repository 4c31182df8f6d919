import { WebSocket } from "ws";
import { isAccountKind, type StreamRecord } from "../brokers/stream-types";
import type { Sql } from "../db";
import type { Logger } from "../log";
import { accountOf, type Client, type SessionEntry, toEvent } from "./entry";
import { appendEvent, type StreamEvent } from "./events";
import { recordFill } from "./fills";
import type { NoticeBinder } from "./intents";
import type { SessionState } from "./session";
import type { StreamSettings } from "./settings";
import type { HubStats } from "./stats";

/** The hub's outgoing side: what a broker session delivers, to the clients that asked. */
export interface FanOut {
  /** A session's state change, told once to every client of that session. */
  sessionState(entry: SessionEntry, state: SessionState, detail?: string): void;
  /** A broker frame's records: market data to its listeners, account events stored first. */
  route(entry: SessionEntry, records: StreamRecord[]): void;
  /** A stored event to the topic's clients (queued behind a replay under way). */
  publish(entry: SessionEntry, topic: string, event: StreamEvent): void;
  /** Market data (bestEffort) to a slow client drops the client, never waits for it. */
  send(client: Client, text: string, bestEffort: boolean): void;
}

export function createFanOut(deps: {
  sql: Sql;
  settings: StreamSettings;
  logger: Logger;
  entries: Map<string, SessionEntry>;
  stats: HubStats;
  binder: NoticeBinder;
}): FanOut {
  const { sql, settings, logger, entries, stats, binder } = deps;

  function sessionState(entry: SessionEntry, state: SessionState, detail?: string) {
    stats.sessionsUp = [...entries.values()].filter((e) => e.session?.state === "up").length;
    const notice = JSON.stringify({
      type: "session",
      broker: entry.broker,
      state,
      ...(detail ? { detail } : {}),
    });
    const told = new Set<Client>();
    for (const listeners of entry.topics.values()) {
      for (const client of listeners.keys()) {
        if (told.has(client)) continue;
        told.add(client);
        send(client, notice, false);
      }
    }
  }

  function route(entry: SessionEntry, records: StreamRecord[]) {
    for (const record of records) {
      if (!isAccountKind(record.kind)) {
        const listeners = entry.topics.get(`${record.kind}|${record.symbol}`);
        if (!listeners) continue;
        // One text per account the clients asked with, not one per client.
        const texts = new Map<number, string>();
        for (const [client, accountId] of listeners) {
          let text = texts.get(accountId);
          if (text === undefined) {
            text = JSON.stringify(toEvent(entry, record, accountId));
            texts.set(accountId, text);
          }
          send(client, text, true);
        }
        continue;
      }
      const account = accountOf(entry, record);
      if (!account) {
        logger.warn(
          { broker: entry.broker, kind: record.kind },
          "account event for no known account of this app key; dropped",
        );
        continue;
      }
      const event = { ...toEvent(entry, record, account.id), account_id: account.id };
      const received = performance.now();
      entry.storing = entry.storing
        .then(async () => {
          const stored = record.fill
            ? await recordFill(sql, event, record.fill)
            : await appendEvent(sql, event);
          binder.noticed(account.id, record);
          if (!stored) {
            stats.noticesCovered += 1;
            logger.info(
              {
                event: "stream_notice_covered",
                account_id: account.id,
                order_no: record.fill?.orderNo,
              },
              "fill notice not stored: a catch-up from the day orders had already stored this fill",
            );
            return;
          }
          stats.noticesStored += 1;
          publish(entry, `${record.kind}|#${account.id}`, stored);
          stats.noticeLagMs = performance.now() - received;
        })
        .catch((error: Error) => {
          stats.noticeStoreFailures += 1;
          logger.error(
            { err: error.message, account_id: account.id, kind: record.kind },
            "could not store an account event; it was not sent (clients resume from the store)",
          );
        });
    }
  }

  function publish(entry: SessionEntry, topic: string, event: StreamEvent) {
    const listeners = entry.topics.get(topic);
    if (!listeners) return;
    for (const client of listeners.keys()) {
      const queue = client.replaying.get(topic);
      if (queue) queue.push(event);
      else send(client, JSON.stringify(event), false);
    }
  }

  function send(client: Client, text: string, bestEffort: boolean) {
    if (client.socket.readyState !== WebSocket.OPEN) return;
    if (bestEffort && client.socket.bufferedAmount > settings.clientBufferBytes) {
      stats.slowClientsDropped += 1;
      logger.warn(
        { key_id: client.keyId, buffered: client.socket.bufferedAmount },
        "slow stream client dropped",
      );
      client.socket.close(1013, "too slow: reconnect, and resume notices with since");
      return;
    }
    client.socket.send(text);
    stats.framesOut += 1;
  }

  return { sessionState, route, publish, send };
}

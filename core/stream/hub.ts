import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer } from "ws";
import { type AuthError, type Authenticator, hasScope } from "../auth";
import { isAccountKind, type StreamKind } from "../brokers/stream-types";
import type { Cipher } from "../crypto";
import type { Sql } from "../db";
import type { BrokerGateway } from "../gateway";
import type { Logger } from "../log";
import type { TokenService } from "../tokens";
import { createFillCatchUp } from "./catch-up";
import { ClientMessageError, type ClientSubscription, parseClientMessage } from "./client-messages";
import {
  type Client,
  checkCap,
  HubRefusal,
  refuse,
  regId,
  registrationFor,
  type SessionEntry,
} from "./entry";
import { eventsSince } from "./events";
import { createFanOut } from "./fanout";
import { createNoticeBinder } from "./intents";
import { releaseLeases } from "./lease";
import { createHubSessions } from "./sessions";
import type { StreamSettings } from "./settings";
import { emptyHubStats, type HubStats } from "./stats";

const REPLAY_PAGE = 500;

export interface HubDependencies {
  sql: Sql;
  cipher: Cipher;
  tokens: Pick<TokenService, "getApprovalKey" | "getValidToken" | "invalidate">;
  /** Reads the day orders a catch-up checks fills against (paced and audited as any call). */
  gateway: Pick<BrokerGateway, "dayOrders">;
  auth: Authenticator;
  settings: StreamSettings;
  logger: Logger;
  /** Names this process in leases; random by default. */
  owner?: string;
}

/** The realtime hub: broker sessions (one per app key, leased), clients, fan-out. */
export interface Hub {
  /** Takes a websocket upgrade at /stream (answers 401/403/404 itself). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  stats(): HubStats;
  /** Stops every session and releases the leases (SIGTERM). */
  close(): Promise<void>;
}

/** Creates the hub; call handleUpgrade from an HTTP server's `upgrade` event. */
export function createHub(deps: HubDependencies): Hub {
  const { sql, cipher, tokens, auth, settings, logger } = deps;
  const owner = deps.owner ?? `hub-${process.pid}-${randomUUID()}`;
  const server = new WebSocketServer({ noServer: true });
  const entries = new Map<string, SessionEntry>();
  const clients = new Set<Client>();
  const stats = emptyHubStats();
  const binder = createNoticeBinder({ sql, logger });
  let closed = false;
  const fanout = createFanOut({ sql, settings, logger, entries, stats, binder });
  const { send } = fanout;
  const catchUp = createFillCatchUp({
    sql,
    gateway: deps.gateway,
    logger,
    stats,
    publish: fanout.publish,
  });
  const { accountInfo, entryFor, renewLeases } = createHubSessions({
    sql,
    cipher,
    tokens,
    settings,
    logger,
    owner,
    entries,
    stats,
    fanout,
    catchUp,
    isClosed: () => closed,
  });

  const heartbeat = setInterval(() => void renewLeases(), settings.heartbeatMs);
  heartbeat.unref();
  // Besides after each reconnect: a notice the broker never sent, or one that could not be read.
  const sweep =
    settings.catchUpIntervalMs > 0
      ? setInterval(() => {
          for (const entry of entries.values())
            if (entry.leased && entry.session?.state === "up") catchUp.watched(entry);
        }, settings.catchUpIntervalMs)
      : undefined;
  sweep?.unref();

  async function subscribe(client: Client, request: ClientSubscription) {
    const account = await accountInfo(request.accountId);
    const registration = registrationFor(account, request);
    const entry = await entryFor(account);
    const id = `${request.accountId}|${request.kind}|${request.symbol ?? ""}`;
    const topic = isAccountKind(request.kind)
      ? `${request.kind}|#${account.id}`
      : `${request.kind}|${request.symbol}`;
    if (!client.subscriptions.has(id)) {
      try {
        checkCap(entry, registration);
      } catch (error) {
        stats.capRefusals += 1;
        throw error;
      }
      const holder = `${client.id}|${id}`;
      const ref = entry.refs.get(regId(registration));
      if (ref) ref.holders.add(holder);
      else {
        entry.refs.set(regId(registration), { registration, holders: new Set([holder]) });
        try {
          await entry.session?.add(registration);
        } catch (error) {
          entry.refs.delete(regId(registration));
          throw new HubRefusal(
            "broker_refused",
            `the broker refused the registration: ${(error as Error).message}`,
          );
        }
      }
      client.subscriptions.set(id, { entry, registration, topic });
      const fresh = !entry.topics.has(topic);
      if (fresh) entry.topics.set(topic, new Map());
      entry.topics.get(topic)?.set(client, account.id);
      // Notices newly heard: fills since they were last heard are in the day orders only.
      // A session not up yet catches up when it is (onReady).
      if (fresh && request.kind === "notice" && entry.session?.state === "up")
        catchUp.request(entry, account);
      stats.registrations = [...entries.values()].reduce((n, e) => n + e.refs.size, 0);
    }
    if (request.since !== undefined) {
      client.replaying.set(topic, []);
      send(client, JSON.stringify(subscribed(request, entry)), false);
      await replay(client, account.id, request.kind, request.since, topic);
      return;
    }
    send(client, JSON.stringify(subscribed(request, entry)), false);
  }

  function subscribed(request: ClientSubscription, entry: SessionEntry) {
    return {
      type: "subscribed",
      account_id: request.accountId,
      kind: request.kind,
      symbol: request.symbol,
      session: entry.leased ? (entry.session?.state ?? "down") : "elsewhere",
    };
  }

  async function replay(
    client: Client,
    accountId: number,
    kind: StreamKind,
    since: number,
    topic: string,
  ) {
    let after = since;
    try {
      for (;;) {
        const page = await eventsSince(sql, accountId, kind, after, REPLAY_PAGE);
        for (const event of page) send(client, JSON.stringify(event), false);
        if (page.length > 0) after = page[page.length - 1]?.seq ?? after;
        if (page.length < REPLAY_PAGE) break;
      }
    } finally {
      const queued = client.replaying.get(topic) ?? [];
      client.replaying.delete(topic);
      for (const event of queued)
        if ((event.seq ?? 0) > after) send(client, JSON.stringify(event), false);
    }
  }

  async function unsubscribe(client: Client, request: ClientSubscription) {
    const id = `${request.accountId}|${request.kind}|${request.symbol ?? ""}`;
    const held = client.subscriptions.get(id);
    if (!held)
      throw new HubRefusal(
        "not_subscribed",
        `no subscription to ${request.kind} ${request.symbol ?? ""} of account ${request.accountId}`,
      );
    await release(client, id);
    send(
      client,
      JSON.stringify({
        type: "unsubscribed",
        account_id: request.accountId,
        kind: request.kind,
        symbol: request.symbol,
      }),
      false,
    );
  }

  async function release(client: Client, id: string) {
    const held = client.subscriptions.get(id);
    if (!held) return;
    client.subscriptions.delete(id);
    const { entry, registration, topic } = held;
    entry.topics.get(topic)?.delete(client);
    if (entry.topics.get(topic)?.size === 0) entry.topics.delete(topic);
    const ref = entry.refs.get(regId(registration));
    ref?.holders.delete(`${client.id}|${id}`);
    if (ref && ref.holders.size === 0) {
      entry.refs.delete(regId(registration));
      await entry.session?.remove(registration);
    }
    stats.registrations = [...entries.values()].reduce((n, e) => n + e.refs.size, 0);
  }

  function attach(socket: WebSocket, keyId: string) {
    const client: Client = {
      id: randomUUID(),
      socket,
      keyId,
      subscriptions: new Map(),
      replaying: new Map(),
    };
    clients.add(client);
    stats.clients = clients.size;
    let chain = Promise.resolve();
    socket.on("message", (data) => {
      chain = chain.then(async () => {
        let request: ClientSubscription | undefined;
        try {
          request = parseClientMessage(data.toString());
          if (request.op === "subscribe") await subscribe(client, request);
          else await unsubscribe(client, request);
        } catch (error) {
          const known = error instanceof HubRefusal || error instanceof ClientMessageError;
          if (!known) logger.error({ err: (error as Error).message }, "stream request failed");
          send(
            client,
            JSON.stringify({
              type: "error",
              code:
                error instanceof HubRefusal ? error.code : known ? "bad_message" : "internal_error",
              message: known ? (error as Error).message : "the hub could not do that; try again",
              ...(request
                ? {
                    request: {
                      op: request.op,
                      account_id: request.accountId,
                      kind: request.kind,
                      symbol: request.symbol,
                    },
                  }
                : {}),
            }),
            false,
          );
        }
      });
    });
    socket.on("error", (error) =>
      logger.debug({ err: error.message }, "stream client socket error"),
    );
    socket.on("close", () => {
      clients.delete(client);
      stats.clients = clients.size;
      chain = chain.then(async () => {
        for (const id of [...client.subscriptions.keys()]) await release(client, id);
      });
    });
  }

  return {
    handleUpgrade(req, socket, head) {
      const path = new URL(req.url ?? "/", "http://hub.invalid").pathname;
      if (path !== "/stream" || closed) {
        refuse(socket, 404, "not_found", "the stream is at /stream");
        return;
      }
      auth
        .authenticate(req.headers.authorization)
        .then((caller) => {
          if (!hasScope(caller, "stream:read")) {
            refuse(
              socket,
              403,
              "missing_scope",
              `The API key ${caller.keyId} lacks the scope stream:read this stream needs.`,
            );
            return;
          }
          server.handleUpgrade(req, socket, head, (ws) => attach(ws, caller.keyId));
        })
        .catch((error: AuthError) => {
          refuse(socket, 401, "unauthenticated", error.message);
        });
    },
    stats() {
      const leased = [...entries.values()].filter((entry) => entry.leased);
      const up = leased.filter((entry) => entry.session?.state === "up").length;
      return { ...stats, sessionsUp: up, sessionsDown: leased.length - up };
    },
    async close() {
      closed = true;
      clearInterval(heartbeat);
      clearInterval(sweep);
      // Read everything the brokers sent before their sessions close, then store it.
      await Promise.all([...entries.values()].map((entry) => entry.session?.drain()));
      for (const entry of entries.values()) {
        entry.session?.stop();
        await entry.storing;
      }
      await catchUp.close();
      await binder.close();
      for (const client of clients) client.socket.close(1012, "hub restarting");
      server.close();
      const held = [...entries.values()].filter((entry) => entry.leased).map((entry) => entry.key);
      // Not fatal: an unreleased lease lapses after STREAM_LEASE_MS and the next hub takes it then.
      await releaseLeases(sql, held, owner).catch((error: Error) =>
        logger.warn(
          { err: error.message, leases: held.length },
          "could not release the stream leases; they lapse on their own",
        ),
      );
    },
  };
}

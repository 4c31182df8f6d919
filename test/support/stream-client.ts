import WebSocket from "ws";

/** A test's websocket client of the hub: every message it got, and waits on them. */
export interface StreamClient {
  socket: WebSocket;
  messages: Record<string, unknown>[];
  send(message: Record<string, unknown>): void;
  /** The first message (already received or coming) that matches, within `timeoutMs`. */
  next(
    match: (message: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  close(): void;
}

export async function connectStreamClient(
  url: string,
  key: string | undefined,
): Promise<StreamClient> {
  const socket = new WebSocket(
    `${url}/stream`,
    key ? { headers: { authorization: `Bearer ${key}` } } : {},
  );
  const messages: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  socket.on("message", (data) => {
    messages.push(JSON.parse(data.toString()));
    for (const wake of [...waiters]) wake();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => {
        body += chunk.toString();
      });
      res.on("end", () => reject(new Error(`${res.statusCode} ${body}`)));
    });
    socket.once("error", reject);
  });
  return {
    socket,
    messages,
    send: (message) => socket.send(JSON.stringify(message)),
    next(match, timeoutMs = 5_000) {
      let seen = 0;
      return new Promise((resolve, reject) => {
        const check = () => {
          for (; seen < messages.length; seen += 1) {
            const message = messages[seen] as Record<string, unknown>;
            if (match(message)) {
              waiters.delete(check);
              clearTimeout(timer);
              resolve(message);
              return;
            }
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `no matching message within ${timeoutMs} ms; got ${JSON.stringify(messages.slice(-5))}`,
            ),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () => socket.close(),
  };
}

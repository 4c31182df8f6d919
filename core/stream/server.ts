import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Hub } from "./hub";

export interface HubServer {
  /** ws://host:port (clients connect to `${url}/stream`). */
  url: string;
  port: number;
  /** Stops taking connections and closes the hub (leases released). */
  close(): Promise<void>;
}

/** Serves the hub: GET /health (its counts, for the load balancer and operators) and the websocket at /stream. */
export async function serveHub(
  hub: Hub,
  options: { port: number; host: string },
): Promise<HubServer> {
  const server = createServer((req, res) => {
    if (req.method === "GET" && req.url === "/health") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ ok: true, ...hub.stats() }));
      return;
    }
    res.writeHead(404, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        code: "not_found",
        message: "the hub serves GET /health and the websocket at /stream",
      }),
    );
  });
  server.on("upgrade", (req, socket, head) => hub.handleUpgrade(req, socket, head));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://${options.host}:${port}`,
    port,
    async close() {
      const closed = new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await hub.close();
      await closed;
    },
  };
}

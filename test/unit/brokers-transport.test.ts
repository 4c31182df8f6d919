import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sendOverHttp } from "../../core/brokers/transport";

// The gateway holds a call back on its connection when the connection made it
// late (core/gateway): the transport must write nothing before `connected` says so.
describe("sendOverHttp's connected hook", () => {
  let server: Server;
  let url: string;
  const events: string[] = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk) => {
        body += String(chunk);
      });
      request.on("end", () => {
        events.push(`request ${request.method} ${body}`);
        response.writeHead(200, { "content-type": "application/json" });
        response.end('{"ok":true}');
      });
    });
    server.on("connection", () => events.push("connection"));
    await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
  });

  it("is awaited once the connection is open, and nothing is sent before it resolves", async () => {
    events.length = 0;
    const answer = await sendOverHttp("POST", url, '{"a":1}', {}, 5_000, async () => {
      // The connection is open (the server saw it) and no request has arrived.
      await new Promise((resolve) => setTimeout(resolve, 100));
      events.push("connected");
    });
    expect(answer.status).toBe(200);
    expect(answer.text).toBe('{"ok":true}');
    expect(events).toEqual(["connection", "connected", 'request POST {"a":1}']);
  });

  it("on a kept-alive connection too, and a refusal sends nothing and is the call's error", async () => {
    events.length = 0;
    let called = 0;
    await sendOverHttp("GET", url, undefined, {}, 5_000, async () => {
      called += 1;
    });
    expect(called).toBe(1);
    await expect(
      sendOverHttp("POST", url, '{"b":2}', {}, 5_000, async () => {
        throw new Error("booked past the wait bound");
      }),
    ).rejects.toThrow("booked past the wait bound");
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(events.filter((event) => event.startsWith("request"))).toEqual(["request GET "]);
  });
});

import { execFileSync, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSql } from "../../core/db";
import { requiredUnderCi } from "../support/tools";

/*
 * A stand-in for a Postgres server in the path: it answers the SSLRequest
 * with "S" and completes a TLS handshake with its own certificate (for
 * localhost, from a CA of its own), then hangs up. What the client does with
 * that certificate is the point: sslmode=require completes the handshake
 * (and would go on to send the password); ssl: { ca } refuses it unless the
 * certificate chains to the CA it was given.
 */

// openssl has no --version (support/tools' probe): ask it `openssl version`.
const openssl =
  spawnSync("openssl", ["version"], { stdio: "ignore" }).status === 0 ? "openssl" : undefined;
if (!openssl) requiredUnderCi("openssl is not installed");
let dir: string;
let server: Server;
let port: number;
let handshakes = 0;
const sockets = new Set<Socket>();
let serverCa: string;
let otherCa: string;

function certificateAuthority(name: string): void {
  execFileSync(
    openssl as string,
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-keyout",
      join(dir, `${name}.key`),
      "-out",
      join(dir, `${name}.pem`),
      "-subj",
      `/CN=${name}`,
    ],
    { stdio: "ignore" },
  );
}

beforeAll(async () => {
  if (!openssl) return;
  dir = await mkdtemp(join(tmpdir(), "db-tls-"));
  certificateAuthority("server-ca");
  certificateAuthority("other-ca");
  await writeFile(join(dir, "ext.cnf"), "subjectAltName=DNS:localhost\n");
  execFileSync(
    openssl,
    [
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      join(dir, "server.key"),
      "-out",
      join(dir, "server.csr"),
      "-subj",
      "/CN=localhost",
    ],
    { stdio: "ignore" },
  );
  execFileSync(
    openssl,
    [
      "x509",
      "-req",
      "-in",
      join(dir, "server.csr"),
      "-CA",
      join(dir, "server-ca.pem"),
      "-CAkey",
      join(dir, "server-ca.key"),
      "-CAcreateserial",
      "-days",
      "1",
      "-out",
      join(dir, "server.pem"),
      "-extfile",
      join(dir, "ext.cnf"),
    ],
    { stdio: "ignore" },
  );
  serverCa = await readFile(join(dir, "server-ca.pem"), "utf8");
  otherCa = await readFile(join(dir, "other-ca.pem"), "utf8");
  const key = await readFile(join(dir, "server.key"));
  const cert = await readFile(join(dir, "server.pem"));
  server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.once("data", () => {
      socket.write("S");
      const tls = new TLSSocket(socket, { isServer: true, key, cert });
      tls.on("secure", () => {
        handshakes++;
        // A Postgres ErrorResponse, so the client gives up at once instead of retrying.
        const fields = Buffer.from("SFATAL\0C28000\0Mno such server\0\0");
        const header = Buffer.alloc(5);
        header.write("E");
        header.writeInt32BE(fields.length + 4, 1);
        tls.end(Buffer.concat([header, fields]));
      });
      tls.on("error", () => socket.destroy());
    });
  });
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((done) => (server ? server.close(done) : done(undefined)));
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function connect(target: Parameters<typeof createSql>[0]): Promise<string> {
  const sql = createSql(target, { max: 1 });
  try {
    await sql`SELECT 1`;
    return "connected";
  } catch (error) {
    return (error as { code?: string }).code ?? (error as Error).message;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

describe.skipIf(!openssl)(
  `the database connection's TLS${openssl ? "" : " (skipped: openssl is not installed)"}`,
  () => {
    it("refuses a server whose certificate does not chain to the given CA, before any handshake completes", async () => {
      const before = handshakes;
      const outcome = await connect({
        url: `postgres://runtime@localhost:${port}/db`,
        ssl: { ca: otherCa },
      });
      expect(outcome).toMatch(/CERT|SIGNATURE|certificate/i);
      expect(handshakes).toBe(before);
    });

    it("completes the handshake with a server the CA vouches for", async () => {
      const before = handshakes;
      const outcome = await connect({
        url: `postgres://runtime@localhost:${port}/db`,
        ssl: { ca: serverCa },
      });
      expect(outcome).toBe("28000");
      expect(handshakes).toBeGreaterThan(before);
    });

    it("is why sslmode=require is not used: it completes the handshake with any certificate", async () => {
      const before = handshakes;
      const outcome = await connect(`postgres://runtime@localhost:${port}/db?sslmode=require`);
      expect(outcome).toBe("28000");
      expect(handshakes).toBeGreaterThan(before);
    });
  },
);

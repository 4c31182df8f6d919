import WebSocket from "ws";
import type { BrokerEnvironment } from "../brokers";
import type { StreamProtocol, StreamRecord, StreamRegistration } from "../brokers/stream-types";
import type { Logger } from "../log";
import type { StreamSettings } from "./settings";

/** Where a session stands, as clients and metrics see it. */
export type SessionState = "connecting" | "up" | "down" | "kicked";

export interface BrokerSessionOptions {
  protocol: StreamProtocol;
  environment: BrokerEnvironment;
  url: string;
  /** The credential to log in with; `fresh` after the broker refused the last one. */
  credential(fresh: boolean, refused?: string): Promise<string>;
  settings: StreamSettings;
  logger: Logger;
  onRecords(records: StreamRecord[]): void;
  onState(state: SessionState, detail?: string): void;
  /** After each login, once everything asked for was registered again (or refused): what the broker sends from here on is heard. */
  onReady?(): void;
  /** Counts for metrics: reconnects, conflicts, frames in. */
  onCount(what: "reconnect" | "conflict" | "frame", n?: number): void;
}

/** Why a registration was refused by the broker. */
export class RegistrationRefusedError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "RegistrationRefusedError";
  }
}

const regId = (registration: StreamRegistration) => `${registration.kind}|${registration.key}`;
const ACK_TIMEOUT_MS = 5_000;

/**
 * One broker websocket for one app key: logs in, keeps every registration it
 * was asked for (again after each reconnect), echoes keep-alives, and comes
 * back after a cut with capped, jittered backoff. Another session on the same
 * key (OPSP8996 / R10001) is backed off from, doubling, never fought in a loop.
 */
export class BrokerSession {
  private socket: WebSocket | undefined;
  private readonly wanted = new Map<string, StreamRegistration>();
  private readonly ciphers = new Map<string, { key: string; iv: string }>();
  private pending: {
    resolve: () => void;
    reject: (error: Error) => void;
    timer: NodeJS.Timeout;
  }[] = [];
  private credential = "";
  private ready = false;
  private stopped = false;
  private failures = 0;
  private conflicts = 0;
  private freshNeeded = false;
  private refusedCredential: string | undefined;
  private lastFrameAt = Date.now();
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly watchdog: NodeJS.Timeout;
  state: SessionState = "down";

  constructor(private readonly options: BrokerSessionOptions) {
    const { idleTimeoutMs } = options.settings;
    this.watchdog = setInterval(
      () => this.checkIdle(),
      Math.max(25, Math.floor(idleTimeoutMs / 4)),
    );
    this.watchdog.unref();
  }

  /** Registrations held (asked for), whether acknowledged yet or not. */
  get registrationCount(): number {
    return this.wanted.size;
  }

  start(): void {
    this.stopped = false;
    void this.connect();
  }

  /** Registers, or only records the wish when the session is not up (it registers on login). */
  async add(registration: StreamRegistration): Promise<void> {
    const id = regId(registration);
    if (this.wanted.has(id)) return;
    this.wanted.set(id, registration);
    if (!this.ready) return;
    try {
      await this.send(
        this.options.protocol.registrationFrames(this.login(), [registration], "add"),
        true,
      );
    } catch (error) {
      if (error instanceof RegistrationRefusedError) this.wanted.delete(id);
      throw error;
    }
  }

  async remove(registration: StreamRegistration): Promise<void> {
    if (!this.wanted.delete(regId(registration)) || !this.ready) return;
    await this.send(
      this.options.protocol.registrationFrames(this.login(), [registration], "remove"),
      true,
    ).catch((error: Error) =>
      this.options.logger.warn({ err: error.message }, "broker did not confirm a removal"),
    );
  }

  /**
   * Before a planned stop (SIGTERM): removes every registration and waits for
   * the broker's answers, so every frame it sent before them (a fill included)
   * has been read; a socket cut at once would drop what is still in flight.
   */
  async drain(timeoutMs = 2_000): Promise<void> {
    if (!this.ready || this.wanted.size === 0) return;
    const frames = this.options.protocol.registrationFrames(
      this.login(),
      [...this.wanted.values()],
      "remove",
    );
    await Promise.race([
      this.send(frames, true).catch((error: Error) =>
        this.options.logger.warn({ err: error.message }, "drain before stop incomplete"),
      ),
      new Promise((resolve) => setTimeout(resolve, timeoutMs).unref()),
    ]);
  }

  /** Closes for good (the hub stops or loses the lease). */
  stop(): void {
    this.stopped = true;
    clearInterval(this.watchdog);
    clearTimeout(this.reconnectTimer);
    this.failPending(new Error("session stopped"));
    this.socket?.terminate();
    this.socket = undefined;
    this.setState("down", "stopped");
  }

  private login() {
    return { environment: this.options.environment, credential: this.credential };
  }

  private setState(state: SessionState, detail?: string) {
    if (this.state === state) return;
    this.state = state;
    this.options.onState(state, detail);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    this.setState("connecting");
    this.ready = false;
    try {
      this.credential = await this.options.credential(this.freshNeeded, this.refusedCredential);
      this.freshNeeded = false;
      this.refusedCredential = undefined;
    } catch (error) {
      this.options.logger.warn(
        { err: (error as Error).message },
        "no credential for the broker websocket",
      );
      this.scheduleReconnect("no credential");
      return;
    }
    if (this.stopped) return;
    const socket = new WebSocket(this.options.url, { handshakeTimeout: 10_000 });
    this.socket = socket;
    this.lastFrameAt = Date.now();
    socket.on("open", () => {
      for (const frame of this.options.protocol.openingFrames(this.login())) socket.send(frame);
      if (!this.options.protocol.needsLogin) this.onLoggedIn();
    });
    socket.on("message", (data, isBinary) => {
      if (socket !== this.socket || isBinary) return;
      this.lastFrameAt = Date.now();
      this.options.onCount("frame");
      this.onFrame(socket, data.toString());
    });
    socket.on("error", (error) => {
      this.options.logger.debug({ err: error.message }, "broker websocket error");
    });
    socket.on("close", () => {
      if (socket !== this.socket) return;
      this.socket = undefined;
      this.ready = false;
      this.failPending(new Error("session closed"));
      if (this.state !== "kicked") this.setState("down", "closed");
      this.scheduleReconnect("closed");
    });
  }

  private onLoggedIn() {
    this.ready = true;
    this.failures = 0;
    this.setState("up");
    // Everything asked for goes again after every (re)connect.
    const frames = this.options.protocol.registrationFrames(
      this.login(),
      [...this.wanted.values()],
      "add",
    );
    void this.send(frames, true)
      .catch((error: Error) =>
        this.options.logger.warn({ err: error.message }, "re-registration incomplete"),
      )
      .then(() => {
        if (this.ready && !this.stopped) this.options.onReady?.();
      });
  }

  private onFrame(socket: WebSocket, text: string) {
    const message = this.options.protocol.read(text, this.ciphers, new Date());
    switch (message.type) {
      case "ping":
        socket.send(message.echo);
        return;
      case "login":
        if (message.ok) {
          this.conflicts = 0;
          this.onLoggedIn();
        } else this.refuse(socket, message.code, message.message);
        return;
      case "ack": {
        if (message.cipher && message.trId) this.ciphers.set(message.trId, message.cipher);
        const waiter = this.pending.shift();
        if (waiter) clearTimeout(waiter.timer);
        if (message.ok) {
          this.conflicts = 0;
          waiter?.resolve();
          return;
        }
        if (this.options.protocol.isCredentialRefusal(message.code)) {
          waiter?.reject(new RegistrationRefusedError(message.code, message.message));
          this.refuse(socket, message.code, message.message);
          return;
        }
        waiter?.reject(
          new RegistrationRefusedError(message.code, `${message.code} ${message.message}`),
        );
        return;
      }
      case "kicked":
        this.kicked(socket, message.code, message.message);
        return;
      case "records":
        this.options.onRecords(message.records);
        return;
      case "ignored":
        if (message.loss)
          this.options.logger.error(
            { why: message.why },
            "an account event frame could not be read",
          );
        else this.options.logger.debug({ why: message.why }, "broker frame ignored");
        return;
    }
  }

  /** The credential was refused: cut, and log in again with a fresh one. */
  private refuse(socket: WebSocket, code: string, message: string) {
    this.options.logger.warn(
      { code, message },
      "broker refused the websocket credential; logging in again with a fresh one",
    );
    this.freshNeeded = true;
    this.refusedCredential = this.credential;
    socket.terminate();
  }

  private kicked(socket: WebSocket, code: string, message: string) {
    this.conflicts += 1;
    this.options.onCount("conflict");
    this.options.logger.error(
      { code, message, conflicts: this.conflicts },
      "another session holds this app key (the broker refused or kicked this one); backing off",
    );
    this.setState("kicked", code);
    socket.terminate();
  }

  private checkIdle() {
    if (!this.socket || this.stopped) return;
    if (Date.now() - this.lastFrameAt <= this.options.settings.idleTimeoutMs) return;
    // Timers run before this process reads its sockets: after a stall (CPU
    // starved, a long GC) frames may be waiting unread, and cutting now would
    // throw them away, a fill among them. Look again once pending input is read.
    setImmediate(() => {
      const idleMs = Date.now() - this.lastFrameAt;
      if (!this.socket || this.stopped || idleMs <= this.options.settings.idleTimeoutMs) return;
      this.options.logger.warn({ idle_ms: idleMs }, "no frame from the broker; reconnecting");
      this.socket.terminate();
    });
  }

  private scheduleReconnect(why: string, atLeastMs = 0) {
    if (this.stopped || this.reconnectTimer) return;
    const { backoffBaseMs, backoffMaxMs, conflictBackoffMs } = this.options.settings;
    let delay: number;
    if (this.state === "kicked") {
      delay = Math.min(conflictBackoffMs * 2 ** (this.conflicts - 1), 30 * 60_000);
    } else {
      this.failures += 1;
      const capped = Math.min(backoffMaxMs, backoffBaseMs * 2 ** (this.failures - 1));
      delay = Math.max(atLeastMs, capped / 2 + (Math.random() * capped) / 2);
    }
    this.options.onCount("reconnect");
    this.options.logger.info(
      { why, delay_ms: Math.round(delay) },
      "broker websocket reconnect scheduled",
    );
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.connect();
    }, delay);
  }

  private failPending(error: Error) {
    for (const waiter of this.pending) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
    this.pending = [];
  }

  /** Sends frames; with `acked`, waits for each one's answer in order. */
  private async send(frames: string[], acked: boolean): Promise<void> {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    const waits = frames.map((frame) => {
      socket.send(frame);
      if (!acked) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          const index = this.pending.findIndex((waiter) => waiter.timer === timer);
          if (index >= 0) this.pending.splice(index, 1);
          reject(new Error("the broker did not answer a registration in time"));
        }, ACK_TIMEOUT_MS);
        this.pending.push({ resolve, reject, timer });
      });
    });
    const results = await Promise.allSettled(waits);
    const failed = results.find((result) => result.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }
}

/**
 * The socket server behind `ghcpw serve`: accepts connections on a unix socket, checks the handshake,
 * and serves each connection's one request through lib/compile/compile.ts, streaming GHC's output back as it
 * comes. A connection that breaks the protocol gets a Failure frame and is closed; the server goes on.
 *
 * The handshake, in order (lib/wire/handshake.ts): the client greets with its nonce; the server greets back
 * with its own, its proof that it knows the user's token (lib/address/token.ts), and its version, key and
 * how busy it is, which lets a client of another ghcpw version decide what to do (lib/client/client.ts);
 * the client sends its own proof, which the server checks before it reads anything else — until then,
 * frames are limited to a few kilobytes, so a stranger cannot make the server allocate. Then comes either
 * a compile request, served only for the same ghcpw version and server key, or a control command (status,
 * stop, stop-if-idle).
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { compile, type Compiler } from "../compile/compile.ts";
import { EnvironmentNotText } from "../ghc/run.ts";
import {
  type CompileRequest,
  type ControlCommand,
  decodeClientMessage,
  encodeServerMessage,
  type FailureKind,
  greeting,
  PROTOCOL_VERSION,
  type ServerMessage,
} from "../wire/client_protocol.ts";
import { ProtocolError } from "../wire/fields.ts";
import { MessageStream } from "../wire/stream.ts";
import { type BoundSocket, releaseSocket } from "../address/socket_path.ts";
import { readToken } from "../address/token.ts";
import { isClientProof, isNonce, newNonce, serverProof } from "../wire/handshake.ts";
import { withTimeout } from "../timeout.ts";
import { VERSION } from "../version.ts";
import { addTime, timed, type TimeSums } from "../time_sums.ts";

const log = getLogger(["ghcpw", "server"]);

/** Largest frame a client may send once it has proved who it is: requests are small, so anything near this is garbage. */
export const MAX_CLIENT_FRAME_BYTES = 16 * 1024 * 1024;

/** Largest frame before the client has proved that it knows the token: a greeting is a few hundred bytes. */
export const MAX_GREETING_BYTES = 64 * 1024;

/** Connections allowed to be in their handshake at once. */
export const MAX_HANDSHAKES = 64;

/** How long a client has to send its greeting, proof and request. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/** What the server needs to know to serve. */
export interface ServerOptions {
  socketPath: string;
  compiler: Compiler;
  /** The real path of the server's ghc; clients asking for another ghc are refused. */
  ghcRealPath: string;
  ghcVersion: string;
  /**
   * The secret every client must prove it knows, and the runtime directory it was read from (re-read for
   * every connection, in case the file was replaced).
   */
  token: { value: string; dir: string };
  /** This server's key (lib/address/server_key.ts); compile requests for another key are refused. */
  key?: string;
  /** Compiles running longer than this many milliseconds are killed; 0 or absent: no limit. */
  requestTimeoutMs?: number;
  /** A listener bound at `socketPath` by lib/address/socket_path.ts; without it the server binds one itself. */
  bound?: BoundSocket;
  /** Fields for `ghcpw status` beyond the server's own (the pool, the compiler's counters, settings). */
  describe?: () => Promise<Record<string, unknown>> | Record<string, unknown>;
}

/** Counters for status reports and tests. */
export interface ServerStats {
  connections: number;
  /** Compile requests accepted. */
  requests: number;
  /** Connections that sent malformed frames or an out-of-order handshake. */
  protocolErrors: number;
  /** Connections whose client could not prove that it knows the token. */
  refused: number;
  /** Compile requests from another ghcpw version or for another GHC or key. */
  mismatched: number;
  clientsGone: number;
  timeouts: number;
  /** Compile requests that ended in an error of ghcpw's own (not GHC's). */
  failures: number;
}

/** A refusal with a reason the client can act on. */
class Refusal extends Error {
  constructor(message: string, readonly kind: FailureKind) {
    super(message);
  }
}

/** A listening server. */
export class Server {
  readonly stats: ServerStats = {
    connections: 0,
    requests: 0,
    protocolErrors: 0,
    refused: 0,
    mismatched: 0,
    clientsGone: 0,
    timeouts: 0,
    failures: 0,
  };
  readonly finished: Promise<void>;
  readonly startedAt = Date.now();
  /** The most connections open at once so far. */
  peakConnections = 0;
  /**
   * The server's own time per compile request, summed (ms): `handshake`, from accepting the connection to
   * reading the request; `reply`, sending the exit code.
   */
  readonly timesMs: TimeSums = {};
  #bound: BoundSocket;
  #options: ServerOptions;
  #active = new Set<Promise<void>>();
  #compiling = 0;
  #handshaking = 0;
  #handshakeEnded: (() => void)[] = [];
  #lastActivity = Date.now();
  #stopping: Promise<void> | null = null;

  constructor(options: ServerOptions) {
    this.#options = options;
    if (options.bound) {
      this.#bound = options.bound;
    } else {
      const listener = Deno.listen({ transport: "unix", path: options.socketPath });
      Deno.chmodSync(options.socketPath, 0o600);
      this.#bound = { path: options.socketPath, listener, ino: Deno.lstatSync(options.socketPath).ino };
    }
    this.finished = this.#acceptLoop();
  }

  /** The socket this server listens on (the path and the identity of its file). */
  get socket(): BoundSocket {
    return this.#bound;
  }

  /** Compiles running now. */
  get compiling(): number {
    return this.#compiling;
  }

  /** Connections open now (compiles, control commands, handshakes in progress). */
  get connectionsOpen(): number {
    return this.#active.size;
  }

  /**
   * When a compile last started or ended (ms since the epoch): the idle timer counts from here, so
   * `ghcpw status` and probes do not keep an unused server alive.
   */
  get lastActivity(): number {
    return this.#lastActivity;
  }

  /** Whether the server has stopped accepting connections. */
  get stopping(): boolean {
    return this.#stopping !== null;
  }

  /** Stops accepting, lets running requests finish, and removes the socket. */
  async close(reason = "asked to stop"): Promise<void> {
    await this.stopAccepting(reason);
    await this.finished;
  }

  /**
   * Stops accepting new connections now: the socket path is removed first (if it is still this
   * server's), so a new server may take it at once; running requests go on.
   */
  stopAccepting(reason = "asked to stop"): Promise<void> {
    this.#stopping ??= (async () => {
      log.info("Stopping ({reason}); running compiles finish first", { reason });
      await releaseSocket(this.#bound);
      try {
        this.#bound.listener.close();
      } catch {
        // already closed
      }
    })();
    return this.#stopping;
  }

  async #acceptLoop(): Promise<void> {
    try {
      for (;;) {
        let conn: Deno.UnixConn;
        try {
          conn = await this.#bound.listener.accept();
        } catch (e) {
          if (e instanceof Deno.errors.BadResource || this.stopping) break;
          // Out of file descriptors, most likely: a server that runs for weeks waits and goes on.
          log.warn("Cannot accept a connection ({error}); retrying", {
            error: e instanceof Error ? e.message : e,
          });
          await new Promise((resolve) => setTimeout(resolve, 100));
          continue;
        }
        this.stats.connections++;
        this.#handshaking++;
        const done: Promise<void> = this.#serve(conn).finally(() => this.#active.delete(done));
        this.#active.add(done);
        this.peakConnections = Math.max(this.peakConnections, this.#active.size);
        // A connection holds read buffers until it has greeted: past the limit, more connections wait in
        // the kernel's backlog (clients retry) until a handshake ends, so a flood of connections that
        // never greet cannot grow the server without bound. Greeted clients are the user's own compiles.
        while (this.#handshaking >= MAX_HANDSHAKES) {
          await new Promise<void>((r) => this.#handshakeEnded.push(r));
        }
      }
    } finally {
      await Promise.all(this.#active);
      await releaseSocket(this.#bound);
    }
  }

  async #serve(conn: Deno.UnixConn): Promise<void> {
    const accepted = performance.now();
    const stream = new MessageStream(conn, conn, { maxFrameBytes: MAX_GREETING_BYTES });
    // What ends a compile early: the client going away (it stops reading or writing), or the timeout.
    const cancel = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let compiling = false;
    let handshaking = true;
    const endHandshake = () => {
      if (!handshaking) return;
      handshaking = false;
      this.#handshaking--;
      this.#handshakeEnded.shift()?.();
    };
    try {
      const next = await withTimeout(
        this.#handshake(stream),
        HANDSHAKE_TIMEOUT_MS,
        () => new Error(`no complete request within ${HANDSHAKE_TIMEOUT_MS} ms`),
      );
      endHandshake();
      if (next.kind === "closed") return;
      if (next.kind === "control") {
        await this.#control(stream, next.command);
        return;
      }
      const { hello, request } = next;
      this.#checkCompatible(hello);
      addTime(this.timesMs, "handshake", performance.now() - accepted);
      log.debug("Request from client {client}: {argv}", { client: hello.pid ?? "?", argv: request.argv });
      this.stats.requests++;
      this.#compiling++;
      this.#lastActivity = Date.now();
      compiling = true;
      // The client sends nothing after its request; anything it does now (closing, most likely) ends it.
      stream.read().then(() => cancel.abort(new ClientGone()), () => cancel.abort(new ClientGone()));
      const sink = {
        stdout: (chunk: Uint8Array) => send(stream, { kind: "stdout", chunk }),
        stderr: (chunk: Uint8Array) => send(stream, { kind: "stderr", chunk }),
      };
      const timeoutMs = this.#options.requestTimeoutMs ?? 0;
      // A timer of our own, cleared when the request ends: AbortSignal.timeout would keep every
      // request's signal alive for the whole timeout (an hour), thousands of them in a busy build.
      if (timeoutMs > 0) timer = setTimeout(() => cancel.abort(new RequestTimeout()), timeoutMs);
      const code = await compile(this.#options.compiler, request, sink, cancel.signal);
      await timed(this.timesMs, "reply", () => send(stream, { kind: "exit", code }));
    } catch (e) {
      const reason = cancel.signal.aborted ? cancel.signal.reason : e;
      if (reason instanceof ClientGone || e instanceof ClientGone) {
        this.stats.clientsGone++;
        log.info("Client went away; its compile was cancelled");
      } else if (reason instanceof RequestTimeout) {
        this.stats.timeouts++;
        const seconds = (this.#options.requestTimeoutMs ?? 0) / 1000;
        const message = `the compile ran longer than the request timeout (${seconds} s) and was killed; ` +
          `raise it with 'ghcpw serve --request-timeout SECONDS' (0: no limit)`;
        log.warn("Request timed out after {seconds} s; its GHC was killed", { seconds });
        await send(stream, { kind: "failure", message, reason: "timeout" }).catch(() => {});
      } else {
        const message = e instanceof Error ? e.message : String(e);
        const kind: FailureKind = e instanceof Refusal
          ? e.kind
          : e instanceof EnvironmentNotText
          ? "fallback"
          : compiling
          ? "internal"
          : "protocol";
        if (kind === "auth") this.stats.refused++;
        else if (kind === "version" || kind === "key") this.stats.mismatched++;
        else if (kind === "internal") this.stats.failures++;
        else if (kind !== "fallback") this.stats.protocolErrors++;
        if (kind === "version" || kind === "key" || kind === "fallback") {
          log.info("Refusing a request: {error}", { error: message });
        } else {
          log.warn("Closing a connection: {error}", { error: message });
        }
        await send(stream, { kind: "failure", message, reason: kind }).catch(() => {});
        // Closing a unix socket with unread input resets the connection, and the client may then lose
        // the Failure before reading it: end our side, and let the client close first (briefly).
        if (!compiling) await drain(stream);
      }
    } finally {
      endHandshake();
      clearTimeout(timer);
      if (compiling) {
        this.#compiling--;
        this.#lastActivity = Date.now();
      }
      await stream.close();
      try {
        conn.close();
      } catch {
        // the client closed first
      }
    }
  }

  /**
   * Runs the server's half of the handshake and reads what the client wants. "closed": the client closed
   * the connection before it sent its proof — someone checking that the server answers, or a client that
   * did not like the greeting (it could not check the proof, or found another ghcpw version).
   */
  async #handshake(stream: MessageStream): Promise<
    | { kind: "closed" }
    | { kind: "control"; command: ControlCommand }
    | { kind: "request"; hello: Record<string, string>; request: CompileRequest }
  > {
    const first = await stream.read();
    if (first === null) return { kind: "closed" };
    const hello = decodeClientMessage(first, "the client's greeting", ["hello"]).properties;
    if (hello.protocol !== String(PROTOCOL_VERSION)) {
      // Before greeting back: a client of protocol 2 or 3 would send its token next, and this server
      // cannot prove itself to it.
      throw new Refusal(this.#protocolMismatch(hello), "protocol");
    }
    if (!isNonce(hello.nonce)) throw new ProtocolError("the client's greeting carries no valid nonce");
    const token = this.#currentToken();
    const nonce = newNonce();
    await send(
      stream,
      greeting({
        nonce,
        proof: await serverProof(token, hello.nonce, nonce),
        ghc: this.#options.ghcRealPath,
        "ghc-version": this.#options.ghcVersion,
        key: this.#options.key ?? "",
        active: String(this.#compiling),
      }),
    );
    const second = await stream.read();
    if (second === null) return { kind: "closed" };
    const proof = decodeClientMessage(second, "the client's proof", ["proof"]).properties;
    if (!await isClientProof(proof.proof, token, nonce, hello.nonce)) {
      throw new Refusal(
        "refused: the client could not prove that it knows the token (it reads another runtime " +
          "directory, or is not this user)",
        "auth",
      );
    }
    stream.maxFrameBytes = MAX_CLIENT_FRAME_BYTES;
    const frame = await stream.read();
    if (frame === null) throw new ProtocolError("connection closed while waiting for a request");
    const message = decodeClientMessage(frame, "a request", ["request", "control"]);
    return message.kind === "control"
      ? message
      : { kind: "request", hello: { ...hello, ...proof }, request: message.request };
  }

  /**
   * The token as the runtime directory holds it now: the file may have been replaced (removed by a /tmp
   * cleaner, then recreated by a client), and clients read the file, not this server's memory.
   */
  #currentToken(): string {
    const token = this.#options.token;
    let current: string | null = null;
    try {
      current = readToken(token.dir);
    } catch {
      // unreadable now: keep the token this server has
    }
    if (current !== null && current !== token.value) {
      log.info("The token file changed; using the new token");
      token.value = current;
    }
    return token.value;
  }

  #protocolMismatch(hello: Record<string, string>): string {
    return `protocol mismatch: this server (ghcpw ${VERSION}) speaks protocol ${PROTOCOL_VERSION}, ` +
      `the client (ghcpw ${hello.version ?? "?"}) speaks ${hello.protocol ?? "none"}; ` +
      `restart the server with the client's ghcpw (ghcpw stop; ghcpw serve)`;
  }

  /** Refuses a compile request this server must not serve: another ghcpw version, GHC or key. */
  #checkCompatible(hello: Record<string, string>): void {
    if (hello.version !== VERSION) {
      throw new Refusal(
        `version mismatch: this server is ghcpw ${VERSION}, the client is ghcpw ${hello.version ?? "?"}`,
        "version",
      );
    }
    if (hello.ghc && hello.ghc !== this.#options.ghcRealPath) {
      throw new Refusal(
        `this server runs ${this.#options.ghcRealPath}, the client asked for ${hello.ghc}`,
        "key",
      );
    }
    if (hello.key && this.#options.key && hello.key !== this.#options.key) {
      throw new Refusal(
        `this server's key is ${this.#options.key} (GHC, --package-db and whether workers keep names, --share), the client's is ${hello.key}`,
        "key",
      );
    }
  }

  /** Answers a control command with JSON. */
  async #control(stream: MessageStream, command: ControlCommand): Promise<void> {
    let reply: Record<string, unknown>;
    switch (command) {
      case "status":
        reply = await this.describe();
        break;
      case "stop":
        await this.stopAccepting("ghcpw stop");
        reply = { stopping: true, pid: Deno.pid, compiling: this.#compiling };
        break;
      case "stop-if-idle":
        // This connection is the only one that may be open; a compile in progress means busy.
        if (this.#compiling === 0) {
          await this.stopAccepting("replaced by a client of another ghcpw version");
          reply = { stopping: true, pid: Deno.pid, compiling: 0 };
        } else {
          reply = { stopping: false, pid: Deno.pid, compiling: this.#compiling };
        }
        break;
    }
    await send(stream, { kind: "control-reply", reply });
  }

  /** What `ghcpw status` shows: the server's own facts, then those of `describe`. */
  async describe(): Promise<Record<string, unknown>> {
    return {
      version: VERSION,
      pid: Deno.pid,
      startedAt: new Date(this.startedAt).toISOString(),
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 100) / 10,
      socket: this.#bound.path,
      key: this.#options.key ?? null,
      ghc: this.#options.ghcRealPath,
      ghcVersion: this.#options.ghcVersion,
      compiling: this.#compiling,
      connectionsOpen: this.#active.size,
      peakConnections: this.peakConnections,
      stopping: this.stopping,
      requestTimeoutSeconds: (this.#options.requestTimeoutMs ?? 0) / 1000,
      server: { ...this.stats },
      ...await this.#options.describe?.(),
    };
  }
}

/** Sends one of the server's messages. */
function send(stream: MessageStream, message: ServerMessage): Promise<void> {
  return stream.send(encodeServerMessage(message));
}

/** How long a refused client has to close its end before the server closes anyway. */
const DRAIN_MS = 1000;

/** Ends the server's side of a connection and reads what the client still sends, until it closes. */
async function drain(stream: MessageStream): Promise<void> {
  await stream.close();
  const until = withTimeout(
    (async () => {
      while (await stream.read() !== null);
    })(),
    DRAIN_MS,
    () => new Error("the client did not close"),
  );
  await until.catch(() => {});
}

/** A compile ran longer than the request timeout. */
class RequestTimeout extends Error {
  override name = "RequestTimeout";
}

/** The client closed its connection before its request was done. */
export class ClientGone extends Error {
  override name = "ClientGone";
  constructor() {
    super("the client went away");
  }
}

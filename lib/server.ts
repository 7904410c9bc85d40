/**
 * The socket server behind `ghcpw serve`: accepts connections on a unix socket, checks the handshake,
 * and serves each connection's one request through lib/compile.ts, streaming GHC's output back as it
 * comes. A connection that breaks the protocol gets a Failure frame and is closed; the server goes on.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { compile, type Compiler } from "./compile.ts";
import {
  decodeCompileRequest,
  decodeProperties,
  encodeMessage,
  encodeProperties,
  FrameType,
  MessageStream,
  PROTOCOL_VERSION,
} from "./protocol.ts";
import { withTimeout } from "./timeout.ts";
import { VERSION } from "./version.ts";

const log = getLogger(["ghcpw", "server"]);

/** Largest frame a client may send: requests are small, so anything near this is garbage. */
export const MAX_CLIENT_FRAME_BYTES = 16 * 1024 * 1024;

/** How long a client has to send its greeting and request. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/** What the server needs to know to serve. */
export interface ServerOptions {
  socketPath: string;
  compiler: Compiler;
  /** The real path of the server's ghc; clients asking for another ghc are refused. */
  ghcRealPath: string;
  ghcVersion: string;
}

/** Counters for status reports and tests. */
export interface ServerStats {
  connections: number;
  protocolErrors: number;
  clientsGone: number;
}

/** A listening server. */
export class Server {
  readonly stats: ServerStats = { connections: 0, protocolErrors: 0, clientsGone: 0 };
  readonly finished: Promise<void>;
  #listener: Deno.Listener<Deno.UnixConn, Deno.UnixAddr>;
  #options: ServerOptions;
  #active = new Set<Promise<void>>();

  constructor(options: ServerOptions) {
    this.#options = options;
    this.#listener = Deno.listen({ transport: "unix", path: options.socketPath });
    Deno.chmodSync(options.socketPath, 0o600);
    this.finished = this.#acceptLoop();
  }

  /** Stops accepting, lets running requests finish, and removes the socket. */
  async close(): Promise<void> {
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    await this.finished;
  }

  async #acceptLoop(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        this.stats.connections++;
        const done: Promise<void> = this.#serve(conn).finally(() => this.#active.delete(done));
        this.#active.add(done);
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource)) throw e;
    } finally {
      await Promise.all(this.#active);
      await Deno.remove(this.#options.socketPath).catch(() => {});
    }
  }

  async #serve(conn: Deno.UnixConn): Promise<void> {
    const stream = new MessageStream(conn.readable, conn.writable, { maxFrameBytes: MAX_CLIENT_FRAME_BYTES });
    // A client that stops reading or writing is gone: cancel whatever it asked for.
    const gone = new AbortController();
    try {
      const [hello, request] = await withTimeout(
        this.#handshake(stream),
        HANDSHAKE_TIMEOUT_MS,
        () => new Error(`no complete request within ${HANDSHAKE_TIMEOUT_MS} ms`),
      );
      log.debug("Request from client {client}: {argv}", { client: hello.pid ?? "?", argv: request.argv });
      // The client sends nothing after its request; anything it does now (closing, most likely) ends it.
      stream.read().then(() => gone.abort(new ClientGone()), () => gone.abort(new ClientGone()));
      const sink = {
        stdout: (chunk: Uint8Array) => stream.send(FrameType.Stdout, chunk),
        stderr: (chunk: Uint8Array) => stream.send(FrameType.Stderr, chunk),
      };
      const code = await compile(this.#options.compiler, request, sink, gone.signal);
      await stream.send(FrameType.Exit, encodeMessage(String(code)));
    } catch (e) {
      if (gone.signal.aborted || e instanceof ClientGone) {
        this.stats.clientsGone++;
        log.info("Client went away; its compile was cancelled");
      } else {
        this.stats.protocolErrors++;
        const message = e instanceof Error ? e.message : String(e);
        log.warn("Closing a connection: {error}", { error: message });
        await stream.send(FrameType.Failure, encodeMessage(message)).catch(() => {});
      }
    } finally {
      await stream.close();
      try {
        conn.close();
      } catch {
        // the client closed first
      }
    }
  }

  async #handshake(stream: MessageStream) {
    const hello = decodeProperties(await stream.expect(FrameType.Hello, "the client's greeting"));
    if (hello.protocol !== String(PROTOCOL_VERSION)) {
      throw new Error(
        `protocol mismatch: this server (ghcpw ${VERSION}) speaks protocol ${PROTOCOL_VERSION}, ` +
          `the client (ghcpw ${hello.version ?? "?"}) speaks ${hello.protocol ?? "none"}; ` +
          `restart the server with the client's ghcpw (ghcpw stop; ghcpw serve)`,
      );
    }
    if (hello.ghc && hello.ghc !== this.#options.ghcRealPath) {
      throw new Error(`this server runs ${this.#options.ghcRealPath}, the client asked for ${hello.ghc}`);
    }
    await stream.send(
      FrameType.Hello,
      encodeProperties({
        protocol: String(PROTOCOL_VERSION),
        version: VERSION,
        ghc: this.#options.ghcRealPath,
        "ghc-version": this.#options.ghcVersion,
      }),
    );
    const request = decodeCompileRequest(await stream.expect(FrameType.Request, "a request"));
    return [hello, request] as const;
  }
}

/** The client closed its connection before its request was done. */
export class ClientGone extends Error {
  override name = "ClientGone";
  constructor() {
    super("the client went away");
  }
}

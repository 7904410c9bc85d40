/**
 * How every client opens a connection to a server — `ghcpw ghc`, and the control commands of
 * `ghcpw status` and `ghcpw stop` and of auto-start replacing an older server: check that the socket is the
 * user's own (lib/address/socket_trust.ts), connect, and run the client's half of the handshake
 * (lib/wire/handshake.ts). Until the server has proved that it knows the user's token, the client has
 * sent it nothing but a random nonce: not the token, not its environment, arguments or working directory.
 *
 * @module
 */

import { checkSocket, UntrustedSocket } from "../address/socket_trust.ts";
import { connectUnix } from "../address/unix_socket.ts";
import {
  type ClientMessage,
  decodeServerMessage,
  encodeClientMessage,
  greeting,
  PROTOCOL_VERSION,
} from "../wire/client_protocol.ts";
import { clientProof, isNonce, isServerProof, newNonce } from "../wire/handshake.ts";
import { MessageStream } from "../wire/stream.ts";
import { withDeadline } from "../timeout.ts";

/**
 * Why no session could be opened: "untrusted" (the socket is not safely the user's), "impostor" (the
 * server could not prove that it knows the token), "no-token" (the user has no token to check it with),
 * "protocol" (the server speaks another protocol version, so it cannot be checked), "refused" (the
 * server refused the connection), "lost" (the connection failed or the server did not greet in time).
 */
export type SessionFailureKind = "untrusted" | "impostor" | "no-token" | "protocol" | "refused" | "lost";

/** No session could be opened; the message says why and what to do. */
export class SessionFailure extends Error {
  override name = "SessionFailure";
  constructor(message: string, readonly kind: SessionFailureKind) {
    super(message);
  }
}

/** A connection to a server that has proved that it knows the user's token. */
export interface Session {
  /** The server's greeting: its versions, key and how many compiles it is running. */
  server: Record<string, string>;
  /** The connection's frames, for what follows {@linkcode Session.begin}. */
  stream: MessageStream;
  /**
   * Sends the client's proof, carrying `properties` (the ghc and server key a compile is for), and behind
   * it the client's one request or control command.
   */
  begin(message: ClientMessage, properties?: Record<string, string>): Promise<void>;
  /** Abandons the connection. */
  close(): Promise<void>;
}

/** How long the server has to greet back; it does so before any compile work. */
const GREETING_TIMEOUT_MS = 10_000;

/**
 * Opens a session with the server on `socket`, checking it against `token` (null: the user has none
 * yet, so a server that answers cannot be checked). Resolves to null when no server listens there;
 * rejects with {@linkcode SessionFailure}.
 */
export async function openSession(socket: string, token: string | null): Promise<Session | null> {
  let target: string | null;
  try {
    target = checkSocket(socket);
  } catch (e) {
    if (e instanceof UntrustedSocket) throw new SessionFailure(e.message, "untrusted");
    throw e;
  }
  if (target === null) return null;
  let conn: Deno.UnixConn;
  try {
    conn = await connectUnix(target);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.ConnectionRefused) return null;
    throw new SessionFailure(`cannot connect to ${socket}: ${e instanceof Error ? e.message : e}`, "lost");
  }
  const stream = new MessageStream(conn, conn);
  const close = async () => {
    await stream.abort().catch(() => {});
    try {
      conn.close();
    } catch {
      // already closed
    }
  };
  try {
    const nonce = newNonce();
    await stream.send(encodeClientMessage(greeting({ nonce })));
    const server = await withDeadline(
      readGreeting(stream, socket),
      GREETING_TIMEOUT_MS,
      () => new SessionFailure(`the server did not greet within ${GREETING_TIMEOUT_MS / 1000} s`, "lost"),
    );
    if (token === null) {
      throw new SessionFailure(
        `no ghcpw token to check the server on ${socket} with: no ghcpw server has run as you with this ` +
          `runtime directory (for a server started with another, set XDG_RUNTIME_DIR as that server had it)`,
        "no-token",
      );
    }
    if (!isNonce(server.nonce) || !await isServerProof(server.proof, token, nonce, server.nonce)) {
      throw new SessionFailure(
        `the server on ${socket} could not prove that it knows your ghcpw token, so it was sent nothing ` +
          `(if it is your own ghcpw, start it and its clients with the same XDG_RUNTIME_DIR; if not, ` +
          `remove the socket or choose another)`,
        "impostor",
      );
    }
    const proof = await clientProof(token, server.nonce, nonce);
    return {
      server,
      stream,
      begin: async (message, properties = {}) => {
        // Both at once: the server reads the request as soon as it has checked the proof.
        await Promise.all([
          stream.send(encodeClientMessage({ kind: "proof", properties: { ...properties, proof } })),
          stream.send(encodeClientMessage(message)),
        ]);
      },
      close,
    };
  } catch (e) {
    await close();
    if (e instanceof SessionFailure) throw e;
    throw new SessionFailure(`lost the server on ${socket}: ${e instanceof Error ? e.message : e}`, "lost");
  }
}

/** Reads the server's greeting; a refusal, or a greeting of another protocol version, is a failure. */
async function readGreeting(stream: MessageStream, socket: string): Promise<Record<string, string>> {
  const frame = await stream.read();
  if (frame === null) throw new SessionFailure("the server closed the connection before greeting", "lost");
  const hello = decodeServerMessage(frame, "the server's greeting", ["hello", "failure"]);
  if (hello.kind === "failure") {
    // A server of another protocol version refuses this client's greeting before greeting back (one of
    // protocol 2 or 3 because it carries no token), with this reason.
    if (hello.reason === "protocol") throw otherProtocol(socket, `it answered: ${hello.message}`);
    throw new SessionFailure(`the server on ${socket} refused the connection: ${hello.message}`, "refused");
  }
  if (hello.properties.protocol !== String(PROTOCOL_VERSION)) {
    throw otherProtocol(socket, `it greeted with protocol ${hello.properties.protocol ?? "none"}`);
  }
  return hello.properties;
}

function otherProtocol(socket: string, detail: string): SessionFailure {
  return new SessionFailure(
    `the server on ${socket} speaks another version of ghcpw's protocol, so it cannot prove that it knows ` +
      `your token and was sent nothing (${detail})`,
    "protocol",
  );
}

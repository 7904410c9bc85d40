/**
 * A client that speaks the socket protocol by hand, for suites that send a server what a real client
 * never would (tests/system/server_test.ts, tests/system/fuzz_test.ts): it opens a connection, can run the
 * handshake up to the client's proof, then writes whatever bytes a test gives and collects the answer.
 *
 * @module
 */

import { encodeFrame } from "../../lib/wire/frame.ts";
import { encodeProperties } from "../../lib/wire/fields.ts";
import { FrameType } from "../../lib/wire/messages.ts";
import {
  decodeServerMessage,
  encodeClientMessage,
  greeting,
  PROTOCOL_VERSION,
} from "../../lib/wire/client_protocol.ts";
import { clientProof, newNonce } from "../../lib/wire/handshake.ts";
import { MessageStream } from "../../lib/wire/stream.ts";
import { VERSION } from "../../lib/version.ts";

/** A connection opened by hand. */
export interface RawConnection {
  conn: Deno.UnixConn;
  stream: MessageStream;
}

/** Connects to `socket` without any of a client's checks. */
export async function rawConnect(socket: string): Promise<RawConnection> {
  const conn = await Deno.connect({ transport: "unix", path: socket });
  return { conn, stream: new MessageStream(conn, conn) };
}

/**
 * Greets the server with `hello` properties added to a valid greeting (a nonce), reads its greeting, and
 * returns the bytes of the Proof frame a client knowing `token` sends next, carrying `properties`. A test
 * writes them (or not), then what it wants to test.
 */
export async function greetByHand(
  raw: RawConnection,
  token: string,
  properties: Record<string, string> = {},
  hello: Record<string, string> = {},
): Promise<Uint8Array> {
  const nonce = newNonce();
  await raw.stream.send(encodeClientMessage(greeting({ nonce, ...hello })));
  const frame = await raw.stream.read();
  if (frame === null) throw new Error("the server closed the connection instead of greeting");
  const server = decodeServerMessage(frame, "the server's greeting", ["hello"]).properties;
  const proof = await clientProof(token, server.nonce, nonce);
  return encodeFrame(FrameType.Proof, encodeProperties({ ...properties, proof }));
}

/**
 * Writes `bytes`, ends the writing side, and reads until the server closes: resolves to the message of
 * the server's Failure, or null if it sent none (or the connection broke). Closes the connection.
 */
export async function finishRaw(raw: RawConnection, bytes: Uint8Array): Promise<string | null> {
  await raw.conn.write(bytes).catch(() => {});
  await raw.conn.closeWrite().catch(() => {});
  try {
    for (let frame = await raw.stream.read(); frame !== null; frame = await raw.stream.read()) {
      if (frame.type === FrameType.Failure) {
        return decodeServerMessage(frame, "a failure", ["failure"]).message;
      }
    }
    return null;
  } catch {
    return null;
  } finally {
    try {
      raw.conn.close();
    } catch {
      // the server closed it first
    }
  }
}

/** A greeting frame with exactly `properties` after the protocol and ghcpw versions (no nonce unless given). */
export function helloFrame(properties: Record<string, string> = {}): Uint8Array {
  return encodeFrame(
    FrameType.Hello,
    encodeProperties({ protocol: String(PROTOCOL_VERSION), version: VERSION, ...properties }),
  );
}

/**
 * The client side of control commands — `status`, `stop`, `stop-if-idle` — sent over a server's socket
 * with the same greeting (and token) as a compile request, answered with one JSON object.
 *
 * @module
 */

import {
  type ControlCommand,
  decodeServerMessage,
  encodeClientMessage,
  greeting,
} from "../wire/client_protocol.ts";
import { MessageStream } from "../wire/stream.ts";
import { withTimeout } from "../timeout.ts";
import { connectUnix } from "../address/unix_socket.ts";

/** A control command the server refused, with the server's reason. */
export class ControlRefused extends Error {
  override name = "ControlRefused";
}

/** How long a control command may take: the server answers at once. */
const CONTROL_TIMEOUT_MS = 10_000;

/**
 * Sends a control command to the server on `socket` and resolves to its JSON answer. Rejects with the
 * connection error if no server listens, and with {@linkcode ControlRefused} if the server refuses.
 */
export async function sendControl(
  socket: string,
  command: ControlCommand,
  token: string,
): Promise<Record<string, unknown>> {
  const conn = await connectUnix(socket);
  const stream = new MessageStream(conn, conn);
  try {
    return await withTimeout(
      (async () => {
        await stream.send(encodeClientMessage(greeting({ token })));
        await stream.send(encodeClientMessage({ kind: "control", command }));
        for (;;) {
          const frame = await stream.read();
          if (frame === null) throw new ControlRefused("the server closed the connection");
          const message = decodeServerMessage(frame, "the answer to a control command", [
            "hello",
            "control-reply",
            "failure",
          ]);
          switch (message.kind) {
            case "hello":
              continue;
            case "control-reply":
              return message.reply;
            case "failure":
              throw new ControlRefused(message.message);
          }
        }
      })(),
      CONTROL_TIMEOUT_MS,
      () =>
        new ControlRefused(`no answer from the server on ${socket} within ${CONTROL_TIMEOUT_MS / 1000} s`),
    );
  } finally {
    await stream.abort().catch(() => {});
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
}

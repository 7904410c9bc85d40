/**
 * The client side of control commands — `status`, `stop`, `stop-if-idle` — sent over a server's socket
 * after the same checks and handshake as a compile request (lib/client/session.ts), answered with one JSON
 * object.
 *
 * @module
 */

import { type ControlCommand, decodeServerMessage } from "../wire/client_protocol.ts";
import { withTimeout } from "../timeout.ts";
import { openSession, SessionFailure } from "./session.ts";

/** A control command the server refused, or a server that could not be trusted with it; with the reason. */
export class ControlRefused extends Error {
  override name = "ControlRefused";
}

/** How long a control command may take: the server answers at once. */
const CONTROL_TIMEOUT_MS = 10_000;

/**
 * Sends a control command to the server on `socket` and resolves to its JSON answer. Rejects with
 * Deno.errors.NotFound if no server listens, and with {@linkcode ControlRefused} if the socket or the
 * server cannot be trusted, or the server refuses.
 */
export async function sendControl(
  socket: string,
  command: ControlCommand,
  token: string,
): Promise<Record<string, unknown>> {
  const session = await openSession(socket, token).catch((e) => {
    throw e instanceof SessionFailure ? new ControlRefused(e.message) : e;
  });
  if (session === null) throw new Deno.errors.NotFound(`no ghcpw server listens on ${socket}`);
  try {
    return await withTimeout(
      (async () => {
        await session.begin({ kind: "control", command });
        const frame = await session.stream.read();
        if (frame === null) throw new ControlRefused("the server closed the connection");
        const message = decodeServerMessage(frame, "the answer to a control command", [
          "control-reply",
          "failure",
        ]);
        if (message.kind === "failure") throw new ControlRefused(message.message);
        return message.reply;
      })(),
      CONTROL_TIMEOUT_MS,
      () =>
        new ControlRefused(`no answer from the server on ${socket} within ${CONTROL_TIMEOUT_MS / 1000} s`),
    );
  } finally {
    await session.close();
  }
}

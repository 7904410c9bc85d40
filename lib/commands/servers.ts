/**
 * Which servers `ghcpw status` and `ghcpw stop` are about: the one named by `--socket` (or its
 * variables), the one for `--ghc`, `--package-db` and `--share`, or else every server socket in the runtime
 * directory — all of them were started by this user, for whatever GHCs. And what each of them answers to
 * the command's control request.
 *
 * @module
 */

import { sendControl } from "../client/control.ts";
import { chooseGhc } from "../ghc/installation.ts";
import { explicitSocketPath } from "../address/paths.ts";
import { ensureRuntimeDir } from "../address/runtime_dir.ts";
import { locateServer } from "../address/locate.ts";
import type { ControlCommand } from "../wire/client_protocol.ts";
import { readToken } from "../address/token.ts";
import { keySettings } from "./select_options.ts";

/** The servers to address, and the token to address them with. */
export interface Selection {
  sockets: string[];
  /** Whether one server was named (rather than all found in the runtime directory). */
  named: boolean;
  runtime: string;
  /** Null when no server has ever run as this user here. */
  token: string | null;
}

/** Resolves the command line's choice of servers. */
export async function selectServers(values: {
  socket?: string;
  ghc?: string;
  "package-db"?: string[];
  share?: string;
}): Promise<Selection> {
  const runtime = await ensureRuntimeDir();
  const token = readToken(runtime);
  const explicit = explicitSocketPath(values.socket);
  if (explicit !== undefined) return { sockets: [explicit], named: true, runtime, token };
  if (values.ghc !== undefined || values["package-db"] !== undefined || values.share !== undefined) {
    const { socket } = await locateServer(chooseGhc(values.ghc), keySettings("status", values));
    return { sockets: [socket], named: true, runtime, token };
  }
  const sockets: string[] = [];
  for await (const entry of Deno.readDir(runtime)) {
    if (entry.name.endsWith(".sock") && !entry.isDirectory) sockets.push(`${runtime}/${entry.name}`);
  }
  return { sockets: sockets.sort(), named: false, runtime, token };
}

/** What one selected server made of a control request. */
export type Answer =
  | { socket: string; kind: "reply"; reply: Record<string, unknown> }
  /** Nothing listens on the socket: its server died, or none ever ran there. */
  | { socket: string; kind: "gone" }
  | { socket: string; kind: "failed"; message: string };

/** Sends `command` to each selected server in turn and classifies its answer. */
export async function askServers(selection: Selection, command: ControlCommand): Promise<Answer[]> {
  const token = selection.token;
  if (token === null) {
    // Without a token no server can be asked. A named socket may be a server started with another
    // runtime directory, and the user must hear how to reach it; servers write the token before they
    // bind, so unnamed sockets here without one are leftovers, not worth a word.
    const message = `no ghcpw server has run as you with the runtime directory ${selection.runtime} ` +
      "(it holds no token); for a server started with another, set XDG_RUNTIME_DIR as that server had it";
    return selection.named ? selection.sockets.map((socket) => ({ socket, kind: "failed", message })) : [];
  }
  const answers: Answer[] = [];
  for (const socket of selection.sockets) {
    try {
      answers.push({ socket, kind: "reply", reply: await sendControl(socket, command, token) });
    } catch (e) {
      if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.ConnectionRefused) {
        answers.push({ socket, kind: "gone" });
      } else {
        answers.push({ socket, kind: "failed", message: e instanceof Error ? e.message : String(e) });
      }
    }
  }
  return answers;
}

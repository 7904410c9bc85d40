/**
 * `ghcpw stop`: ask servers to stop — they stop accepting at once, finish the compiles they are running,
 * then exit — and wait until they have.
 *
 * @module
 */

import { formatDuration } from "../duration.ts";
import { processAlive } from "../process/state.ts";
import { durationOption, parseOptions } from "./options.ts";
import { SELECT_OPTIONS } from "./select_options.ts";
import { askServers, selectServers } from "./servers.ts";

/** How long `ghcpw stop` waits for the servers to exit, unless told otherwise. */
const DEFAULT_WAIT_MS = 5 * 60 * 1000;

export const STOP_HELP = `ghcpw stop: stop ghcpw servers once their running compiles finish

Usage: ghcpw stop [--socket PATH | --ghc PATH [--package-db PATH]... [--share LIST]] [--wait T]

Stops every server running as you (those in the runtime directory), or the one
named by --socket ($GHCPW_SOCKET) or by --ghc and --package-db. A server stops
accepting at once (its socket disappears, so the next 'ghcpw ghc' starts a new
one), finishes the compiles it is running, stops its GHC workers and exits.

Options:
  --socket PATH       the server on this socket
  --ghc PATH          the server for this ghc (with --package-db as given to it)
  --package-db PATH   see 'ghcpw serve --help' (repeatable)
  --share LIST        the server with this setting (see 'ghcpw serve --help')
  --wait T            wait at most T for the servers to exit (default 5m;
                      seconds, or with a unit: 90s, 15m); 0: do not wait
  -h, --help          show this help
`;

/** Runs the subcommand; resolves to the exit code. */
export async function stopCommand(args: string[]): Promise<number> {
  const { values } = parseOptions("stop", args, {
    ...SELECT_OPTIONS,
    wait: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(STOP_HELP);
    return 0;
  }
  const waitMs = durationOption("stop", "--wait", values.wait, DEFAULT_WAIT_MS);
  const selection = await selectServers(values);
  let failed = false;
  const stopping: { socket: string; pid: number }[] = [];
  for (const answer of await askServers(selection, "stop")) {
    if (answer.kind === "reply") {
      stopping.push({ socket: answer.socket, pid: Number(answer.reply.pid) });
    } else if (answer.kind === "failed") {
      console.error(`ghcpw: cannot stop the server on ${answer.socket}: ${answer.message}`);
      failed = true;
    } else if (selection.named) {
      console.log(`ghcpw: no server on ${answer.socket}`);
    }
  }
  if (stopping.length === 0 && !failed && !selection.named) console.log("ghcpw: no server is running");
  const deadline = Date.now() + waitMs;
  for (const { socket, pid } of stopping) {
    while (processAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (processAlive(pid)) {
      console.log(
        `ghcpw: the server on ${socket} (pid ${pid}) is still finishing after ${formatDuration(waitMs)}`,
      );
    } else {
      console.log(`ghcpw: stopped the server on ${socket} (pid ${pid})`);
    }
  }
  return failed ? 1 : 0;
}

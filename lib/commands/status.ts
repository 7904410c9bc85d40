/**
 * `ghcpw status`: what the running servers are doing, as a table or as JSON.
 *
 * @module
 */

import { formatStatus } from "../server/status.ts";
import { parseOptions } from "./options.ts";
import { SELECT_OPTIONS } from "./select_options.ts";
import { askServers, selectServers } from "./servers.ts";

export const STATUS_HELP = `ghcpw status: show what the ghcpw servers are doing

Usage: ghcpw status [--socket PATH | --ghc PATH [--package-db PATH]... [--share LIST]] [--json]

Shows every server running as you (those in the runtime directory), or the one
named by --socket ($GHCPW_SOCKET) or by --ghc and --package-db: its version,
uptime, socket, key and log file; per GHC worker its pid, state, requests
served, resident memory, share setting, the interface sets it keeps, its heap
(live, maximum live, held by the runtime, collections, allocated) and why its
predecessor was recycled; totals of requests, warm hits, fallbacks and errors;
and the last stderr lines of the last worker that was recycled (a crashed
GHC's last words).

Exits with 0 if a server answered, 1 if none did.

Options:
  --socket PATH       the server on this socket
  --ghc PATH          the server for this ghc (with --package-db as given to it)
  --package-db PATH   see 'ghcpw serve --help' (repeatable)
  --share LIST        the server with this setting (see 'ghcpw serve --help')
  --json              print JSON: one object for a named server, else an array
  -h, --help          show this help
`;

/** Runs the subcommand; resolves to the exit code. */
export async function statusCommand(args: string[]): Promise<number> {
  const { values } = parseOptions("status", args, {
    ...SELECT_OPTIONS,
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(STATUS_HELP);
    return 0;
  }
  const selection = await selectServers(values);
  const statuses: Record<string, unknown>[] = [];
  const problems: string[] = [];
  for (const answer of await askServers(selection, "status")) {
    if (answer.kind === "reply") statuses.push(answer.reply);
    else if (answer.kind === "failed") problems.push(`${answer.socket}: ${answer.message}`);
    // A socket nobody listens on is a server that died; only worth saying when it was asked for.
    else if (selection.named) problems.push(`${answer.socket}: no server`);
  }
  if (values.json) {
    console.log(JSON.stringify(selection.named ? statuses[0] ?? null : statuses, null, 2));
  } else {
    if (statuses.length === 0 && problems.length === 0) {
      console.log(`ghcpw: no server is running (runtime directory ${selection.runtime})`);
    }
    if (statuses.length > 0) console.log(statuses.map(formatStatus).join("\n\n"));
  }
  for (const problem of problems) console.error(`ghcpw: ${problem}`);
  return statuses.length > 0 ? 0 : 1;
}

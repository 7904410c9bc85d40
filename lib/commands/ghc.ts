/**
 * `ghcpw ghc [options] -- <ghc arguments>`: the drop-in for ghc.
 *
 * @module
 */

import { runClient } from "../client/client.ts";
import { clientSettings } from "../client/settings.ts";
import { chooseGhc } from "../ghc/installation.ts";
import { parseLogLevel, setUpLogging } from "../log/logging.ts";
import { explicitSocketPath } from "../address/paths.ts";
import { SELECT_OPTIONS, shareOption } from "./select_options.ts";
import { simpleOptions } from "./simple_options.ts";

export const GHC_HELP = `ghcpw ghc: compile through the ghcpw server, exactly as ghc would

Usage: ghcpw ghc [OPTIONS] -- [GHC ARGUMENTS...]

Runs one GHC invocation on a warm GHC worker of the running 'ghcpw serve' and
prints what ghc prints, exiting with ghc's exit code. Everything after '--' is
passed to GHC untouched; without '--', all arguments are GHC's. Use it as the
compiler of a build (Buck2: compiler = "ghcpw ghc --").

With the default socket, a client that finds no server starts one in the
background ('ghcpw serve --detach') and uses it; later clients share it. If no
server can be used, it runs the real ghc itself with the same arguments,
environment and working directory, so a build never breaks because of ghcpw.

Options:
  --socket PATH      server socket (default: $GHCPW_SOCKET, else
                     $GHC_PERSISTENT_WORKER_SOCKET, else the server for this
                     ghc and --package-db list in the runtime directory:
                     $XDG_RUNTIME_DIR/ghcpw/ghc-<version>-<key>.sock, or
                     /tmp/ghcpw-<uid>/... without $XDG_RUNTIME_DIR)
  --ghc PATH         the real ghc, for the fallback and to choose the server
                     (default: $GHCPW_GHC, else ghc on PATH)
  --package-db PATH  as for 'ghcpw serve': '-package-db PATH' ahead of every
                     invocation (repeatable); part of the server's key
  --share LIST       what the server's GHC workers keep between requests, as
                     for 'ghcpw serve' (default: $GHCPW_SHARE, else all);
                     whether names are kept is part of the server's key
  -h, --help         show this help

Environment:
  GHCPW_STRICT=1     fail (exit 2) instead of running ghc directly when the
                     server cannot serve the invocation
  GHCPW_AUTOSTART    1: start a server when none answers, even on an explicit
                     socket; 0: never; unset: only on the default socket
  GHCPW_LOG=LEVEL    log ghcpw's own messages to stderr from LEVEL up (trace,
                     debug, info, warning, error; default: error)
`;

const GHC_OPTIONS = { ...SELECT_OPTIONS, help: { type: "boolean", short: "h" } } as const;

/** Runs the subcommand; resolves to the exit code. */
export async function ghcCommand(args: string[]): Promise<number> {
  const dashes = args.indexOf("--");
  const own = dashes >= 0 ? args.slice(0, dashes) : [];
  const ghcArgs = dashes >= 0 ? args.slice(dashes + 1) : args;
  // node:util's parser only for lines the simple one is unsure of: it costs every compile ~6 ms to load.
  const values = simpleOptions(own, GHC_OPTIONS) ??
    (await import("./options.ts")).parseOptions("ghc", own, GHC_OPTIONS).values;
  if (values.help) {
    console.log(GHC_HELP);
    return 0;
  }
  // Without GHCPW_LOG the client prints nothing of its own, so it does not load a logger either.
  const logLevel = Deno.env.get("GHCPW_LOG");
  if (logLevel) await setUpLogging(parseLogLevel(logLevel));
  const socketPath = explicitSocketPath(values.socket);
  return await runClient({
    socketPath,
    ghc: chooseGhc(values.ghc),
    ...clientSettings(socketPath),
    argv: ghcArgs,
    packageDbs: values["package-db"] ?? [],
    share: shareOption("ghc", values),
  });
}

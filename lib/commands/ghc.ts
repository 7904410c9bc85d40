/**
 * `ghcpw ghc [options] -- <ghc arguments>`: the drop-in for ghc.
 *
 * @module
 */

import { runClient } from "../client.ts";
import { parseLogLevel, setUpLogging } from "../log.ts";
import { resolveSocketPath } from "../paths.ts";
import { parseOptions } from "./options.ts";

export const GHC_HELP = `ghcpw ghc: compile through the ghcpw server, exactly as ghc would

Usage: ghcpw ghc [OPTIONS] -- [GHC ARGUMENTS...]

Runs one GHC invocation on a warm GHC worker of the running 'ghcpw serve' and
prints what ghc prints, exiting with ghc's exit code. Everything after '--' is
passed to GHC untouched; without '--', all arguments are GHC's. Use it as the
compiler of a build (Buck2: compiler = "ghcpw ghc --").

If no server answers, it runs the real ghc itself with the same arguments,
environment and working directory, so a build never breaks because of ghcpw.

Options:
  --socket PATH   server socket (default: $GHCPW_SOCKET, else
                  $GHC_PERSISTENT_WORKER_SOCKET, else
                  $XDG_RUNTIME_DIR/ghcpw/ghcpw.sock or /tmp/ghcpw-<uid>/ghcpw.sock)
  --ghc PATH      the real ghc, for the fallback and to check the server runs the
                  same one (default: $GHCPW_GHC, else ghc on PATH)
  -h, --help      show this help

Environment:
  GHCPW_STRICT=1  fail (exit 2) instead of running ghc directly when the server
                  cannot serve the invocation
  GHCPW_LOG=LEVEL log ghcpw's own messages to stderr from LEVEL up (trace, debug,
                  info, warning, error; default: error)
`;

/** Runs the subcommand; resolves to the exit code. */
export async function ghcCommand(args: string[]): Promise<number> {
  const dashes = args.indexOf("--");
  const own = dashes >= 0 ? args.slice(0, dashes) : [];
  const ghcArgs = dashes >= 0 ? args.slice(dashes + 1) : args;
  const { values } = parseOptions("ghc", own, {
    socket: { type: "string" },
    ghc: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(GHC_HELP);
    return 0;
  }
  await setUpLogging(parseLogLevel(Deno.env.get("GHCPW_LOG") || "error"));
  return await runClient({
    socketPath: resolveSocketPath(values.socket),
    ghc: values.ghc ?? (Deno.env.get("GHCPW_GHC") || "ghc"),
    strict: ["1", "true", "yes"].includes(Deno.env.get("GHCPW_STRICT") ?? ""),
    argv: ghcArgs,
  });
}

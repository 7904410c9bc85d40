/**
 * `ghcpw serve`: build the plugin for the chosen GHC if needed, start the worker pool, serve the socket
 * until interrupted.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { Compiler } from "../compile.ts";
import { inspectGhc, realExecutablePath } from "../ghc.ts";
import { parseLogLevel, setUpLogging } from "../log.ts";
import { resolveSocketPath } from "../paths.ts";
import { ensurePlugin, workerArgs } from "../plugin_build.ts";
import { Pool } from "../pool.ts";
import { Server } from "../server.ts";
import { prepareSocketPath } from "../socket_path.ts";
import { parseOptions, positiveInteger } from "./options.ts";

const log = getLogger(["ghcpw", "serve"]);

export const SERVE_HELP = `ghcpw serve: run the ghcpw server in the foreground

Usage: ghcpw serve [OPTIONS]

Builds ghcpw's GHC plugin for the chosen ghc on first use (cached per user in
$XDG_CACHE_HOME/ghcpw or ~/.cache/ghcpw), starts a pool of GHC worker processes
and serves 'ghcpw ghc' clients on a unix socket until interrupted (Ctrl-C or
SIGTERM: running compiles finish first).

Options:
  --ghc PATH          the ghc to serve (default: $GHCPW_GHC, else ghc on PATH)
  --ghc-pkg PATH      its ghc-pkg (default: found beside the ghc)
  -n, --jobs N        GHC worker processes, each running one compile at a time
                      (default: the number of CPU cores)
  --package-db PATH   add '-package-db PATH' ahead of every invocation's own
                      flags (repeatable, in order)
  --socket PATH       socket to listen on (default: $GHCPW_SOCKET, else
                      $GHC_PERSISTENT_WORKER_SOCKET, else
                      $XDG_RUNTIME_DIR/ghcpw/ghcpw.sock or /tmp/ghcpw-<uid>/ghcpw.sock)
  -v, --verbose       log every request and worker event (level debug)
  -q, --quiet         log only warnings and errors
  --log-level LEVEL   trace, debug, info (default), warning or error
  -h, --help          show this help
`;

/** Runs the subcommand; resolves to the exit code once the server has stopped. */
export async function serveCommand(args: string[]): Promise<number> {
  const { values } = parseOptions("serve", args, {
    ghc: { type: "string" },
    "ghc-pkg": { type: "string" },
    jobs: { type: "string", short: "n" },
    "package-db": { type: "string", multiple: true },
    socket: { type: "string" },
    verbose: { type: "boolean", short: "v" },
    quiet: { type: "boolean", short: "q" },
    "log-level": { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(SERVE_HELP);
    return 0;
  }
  const level = values["log-level"] ?? (values.verbose ? "debug" : values.quiet ? "warning" : "info");
  await setUpLogging(parseLogLevel(level));
  const jobs = values.jobs === undefined
    ? navigator.hardwareConcurrency
    : positiveInteger("serve", "--jobs", values.jobs);
  const socketPath = resolveSocketPath(values.socket);

  const ghc = await inspectGhc(values.ghc ?? (Deno.env.get("GHCPW_GHC") || "ghc"), values["ghc-pkg"]);
  await prepareSocketPath(socketPath);
  const plugin = await ensurePlugin(ghc);
  const pool = new Pool({ ghc: ghc.ghc, args: workerArgs(plugin), cwd: "/" }, jobs);
  await pool.start();
  const compiler: Compiler = {
    ghc: ghc.ghc,
    pool,
    stats: { worker: 0, direct: 0, deferred: 0 },
    extraArgs: (values["package-db"] ?? []).flatMap((db) => ["-package-db", db]),
  };
  const server = new Server({
    socketPath,
    compiler,
    ghcRealPath: realExecutablePath(ghc.ghc),
    ghcVersion: ghc.version,
  });
  log.info("Serving GHC {version} ({ghc}) on {socket} with {jobs} workers", {
    version: ghc.version,
    ghc: ghc.ghc,
    socket: socketPath,
    jobs,
  });

  const stop = () => {
    log.info("Stopping: finishing running compiles");
    server.close();
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  await server.finished;
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  await pool.close();
  log.info("Stopped");
  return 0;
}

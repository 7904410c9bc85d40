/**
 * `ghcpw serve`: build the plugin for the chosen GHC if needed, start the worker pool, serve the socket
 * until interrupted, stopped, idle for too long, or its socket file is removed. In the foreground by
 * default; `--detach` starts the same server in the background (as auto-start does) and returns once it
 * answers.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { ensureServer } from "../client/autostart.ts";
import { prepareGhc, startCompiler } from "../compile/setup.ts";
import { closeInheritedDescriptors } from "../server/daemon.ts";
import { chooseGhc } from "../ghc/installation.ts";
import { DEFAULT_IDLE_TIMEOUT_MS, superviseServer } from "../server/lifecycle.ts";
import { setUpLogging } from "../log/logging.ts";
import { LOG_OPTIONS, logLevelOf } from "./log_options.ts";
import { explicitSocketPath, serverLogFile } from "../address/paths.ts";
import { locateServer } from "../address/locate.ts";
import { Server } from "../server/server.ts";
import { bindSocket, prepareSocketPath, ServerRunning } from "../address/socket_path.ts";
import { statusFields } from "../server/status.ts";
import { ensureToken } from "../address/token.ts";
import { durationOption, parseOptions, positiveInteger } from "./options.ts";
import { UsageError } from "./usage_error.ts";
import { RECYCLE_HELP, RECYCLE_OPTIONS, recycleLimits } from "./recycling.ts";
import { INCREMENTAL_HELP, INCREMENTAL_OPTIONS, incrementalSettings } from "./incremental_options.ts";
import { SHARE_HELP, shareOption } from "./select_options.ts";
import { deterministicObjects } from "../share.ts";

const log = getLogger(["ghcpw", "serve"]);

/** How long a compile may run before it is killed, unless told otherwise. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60 * 60 * 1000;

export const SERVE_HELP = `ghcpw serve: run the ghcpw server (in the foreground unless --detach)

Usage: ghcpw serve [OPTIONS]

Builds ghcpw's GHC plugin for the chosen ghc on first use (cached per user in
$XDG_CACHE_HOME/ghcpw or ~/.cache/ghcpw), starts a pool of GHC worker processes
and serves 'ghcpw ghc' clients on a unix socket until interrupted (Ctrl-C or
SIGTERM), stopped ('ghcpw stop'), idle for --idle-timeout, or until its socket
file is removed; running compiles always finish first. Refuses to start where a
server already answers; a socket left by a dead server is replaced.

'ghcpw ghc' starts a server by itself when none answers on the default socket,
so running 'serve' by hand is only needed for other settings or sockets.

Options:
  --ghc PATH          the ghc to serve (default: $GHCPW_GHC, else ghc on PATH)
  --ghc-pkg PATH      its ghc-pkg (default: found beside the ghc)
  -n, --jobs N        GHC worker processes, each running one compile at a time
                      (default: $GHCPW_JOBS, else the number of CPU cores)
  --package-db PATH   add '-package-db PATH' ahead of every invocation's own
                      flags (repeatable, in order)
${SHARE_HELP}; whether names are
                      kept is part of the key (see --socket): clients choose
                      such a server with the same option
  --socket PATH       socket to listen on (default: $GHCPW_SOCKET, else
                      $GHC_PERSISTENT_WORKER_SOCKET, else the socket named by
                      this ghc's key in the runtime directory, where 'ghcpw ghc'
                      looks: $XDG_RUNTIME_DIR/ghcpw/ghc-<version>-<key>.sock,
                      or /tmp/ghcpw-<uid>/... without $XDG_RUNTIME_DIR)
  --foreground        run in the foreground, logging to stderr (the default)
  --detach            start the server in the background (its own session,
                      logging to a file in $XDG_STATE_HOME/ghcpw or
                      ~/.local/state/ghcpw) and exit once it answers
  --idle-timeout T    exit after T without compiles (default: $GHCPW_IDLE_TIMEOUT,
                      else 1h; 0: never). T is seconds or has a unit: 90s, 15m, 2h
  --request-timeout T kill a compile running longer than T and report an error
                      (default: $GHCPW_REQUEST_TIMEOUT, else 1h; 0: no limit)
${RECYCLE_HELP}
${INCREMENTAL_HELP}
  --daemon            (internal) what --detach and auto-start run
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
    share: { type: "string" },
    socket: { type: "string" },
    foreground: { type: "boolean" },
    detach: { type: "boolean" },
    daemon: { type: "boolean" },
    "idle-timeout": { type: "string" },
    "request-timeout": { type: "string" },
    ...RECYCLE_OPTIONS,
    ...INCREMENTAL_OPTIONS,
    ...LOG_OPTIONS,
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(SERVE_HELP);
    return 0;
  }
  if (values.detach && (values.foreground || values.daemon)) {
    throw new UsageError("ghcpw serve: --detach cannot be combined with --foreground or --daemon");
  }
  const level = logLevelOf(values);
  await setUpLogging(level);
  const jobsOption = values.jobs ?? Deno.env.get("GHCPW_JOBS");
  const jobs = jobsOption ? positiveInteger("serve", "--jobs", jobsOption) : navigator.hardwareConcurrency;
  const idleTimeoutMs = durationOption(
    "serve",
    "--idle-timeout",
    values["idle-timeout"] ?? Deno.env.get("GHCPW_IDLE_TIMEOUT"),
    DEFAULT_IDLE_TIMEOUT_MS,
  );
  const requestTimeoutMs = durationOption(
    "serve",
    "--request-timeout",
    values["request-timeout"] ?? Deno.env.get("GHCPW_REQUEST_TIMEOUT"),
    DEFAULT_REQUEST_TIMEOUT_MS,
  );
  const limits = recycleLimits("serve", values);
  const incremental = incrementalSettings("serve", values);
  const packageDbs = values["package-db"] ?? [];
  const share = shareOption("serve", values);
  const ghcName = chooseGhc(values.ghc);

  // The socket is found the way clients find it: by this GHC's key, in the checked runtime directory,
  // which also holds the token clients must present.
  const { runtime, identity, key, socket: socketPath } = await locateServer(
    ghcName,
    { packageDbs, deterministicObjects: deterministicObjects(share) },
    explicitSocketPath(values.socket),
  );
  const token = await ensureToken(runtime);
  if (values.detach) return await detach(args, socketPath);

  const logFile = values.daemon ? await serverLogFile(socketPath, runtime) : null;
  if (values.daemon) {
    closeInheritedDescriptors();
    await setUpLogging(level, logFile!);
  }
  try {
    await prepareSocketPath(socketPath);
    const prepared = await prepareGhc(ghcName, values["ghc-pkg"]);
    const ghc = prepared.installation;
    const compiler = await startCompiler(prepared, jobs, { packageDbs, share }, limits, incremental);
    const pool = compiler.pool;
    let bound;
    try {
      // Only now that the workers are ready does the socket appear: a client that can connect is served.
      bound = await bindSocket(socketPath);
    } catch (e) {
      await pool.close();
      throw e;
    }
    const server: Server = new Server({
      socketPath,
      compiler,
      ghcRealPath: identity.realPath,
      ghcVersion: ghc.version,
      token: { value: token, dir: runtime },
      key,
      requestTimeoutMs,
      bound,
      describe: () => statusFields(server, compiler, { logFile, idleTimeoutMs }),
    });
    superviseServer(server, idleTimeoutMs);
    log.info("Serving GHC {version} ({ghc}) on {socket} with {jobs} workers (pid {pid}, key {key})", {
      version: ghc.version,
      ghc: ghc.ghc,
      socket: socketPath,
      jobs,
      pid: Deno.pid,
      key,
    });

    const stop = () => server.close("interrupted by a signal");
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
    await server.finished;
    Deno.removeSignalListener("SIGINT", stop);
    Deno.removeSignalListener("SIGTERM", stop);
    await pool.close();
    log.info("Stopped");
    return 0;
  } catch (e) {
    // In the background nobody sees stderr: the log file must say why the server did not start.
    if (values.daemon) {
      log.fatal("Cannot serve: {error}", { error: e instanceof Error ? e.message : String(e) });
    }
    throw e;
  }
}

/** `serve --detach`: starts the same server in the background and waits until it answers. */
async function detach(args: string[], socketPath: string): Promise<number> {
  const serveArgs: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--detach" || args[i] === "--foreground" || args[i].startsWith("--socket=")) continue;
    if (args[i] === "--socket") {
      i++;
      continue;
    }
    serveArgs.push(args[i]);
  }
  const pid = await ensureServer({ socket: socketPath, serveArgs });
  if (pid === null) throw new ServerRunning(`a ghcpw server is already running on ${socketPath}`);
  console.log(`ghcpw: server started on ${socketPath} (pid ${pid}); log: ${await serverLogFile(socketPath)}`);
  return 0;
}

/**
 * A Buck2 local persistent worker for GHC: Buck2 starts it once per WorkerInfo and build command, with
 * $WORKER_SOCKET naming where to listen and the project root as its working directory, and ends it with
 * SIGTERM when the command ends. Warm state therefore cannot live in this process: every command goes
 * through the ghcpw client library to the long-lived server for its ghc (started if none runs), exactly
 * as `ghcpw ghc` would send it, so the next build command finds that server's GHC processes warm. With
 * no usable server, the client runs the real ghc itself.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { runClient } from "../client/client.ts";
import { listenGrpc } from "./grpc_server.ts";
import { workerBaseEnv } from "./invocation.ts";
import { registerWorkerServices, type RunInvocation, shuttingDown } from "./service.ts";
import { VERSION } from "../version.ts";
import type { Share } from "../share.ts";

const log = getLogger(["ghcpw", "buck2"]);

/** How the worker reaches GHC: the client's options that are the same for every command. */
export interface Buck2WorkerOptions {
  /** Where to listen ($WORKER_SOCKET). */
  listen: string;
  /** The ghcpw server's socket named explicitly; undefined for the keyed default of `ghc`. */
  serverSocket?: string;
  ghc: string;
  packageDbs: string[];
  /** What the server's workers keep (lib/share.ts). */
  share: Share;
  strict: boolean;
  autostart: boolean;
}

/** How long the calls in progress get to be answered once the worker is told to stop. */
const SHUTDOWN_GRACE_MS = 5_000;

/** Serves Buck2 until SIGTERM or SIGINT; resolves to the exit code. */
export async function runBuck2Worker(options: Buck2WorkerOptions): Promise<number> {
  // Read once, before any other work: Deno reads the umask by setting one and putting it back, which no
  // request's file operations may overlap. Buck2's own, which a ghc it ran directly would have had.
  const umask = Deno.umask();
  const cwd = Deno.cwd();
  const shutdown = new AbortController();
  const run: RunInvocation = (invocation, sink, signal) =>
    runClient({
      socketPath: options.serverSocket,
      ghc: options.ghc,
      strict: options.strict,
      autostart: options.autostart,
      packageDbs: options.packageDbs,
      share: options.share,
      argv: invocation.argv,
      env: invocation.env,
      cwd,
      umask,
      sink,
      signal,
    });

  const stopped = Promise.withResolvers<string>();
  const onSignal = (name: string) => () => stopped.resolve(name);
  const onTerm = onSignal("SIGTERM");
  const onInt = onSignal("SIGINT");
  Deno.addSignalListener("SIGTERM", onTerm);
  Deno.addSignalListener("SIGINT", onInt);
  try {
    const server = await listenGrpc(options.listen, (router) =>
      registerWorkerServices(router, {
        run,
        baseEnv: workerBaseEnv(Deno.env.toObject()),
        cwd,
        shutdown: shutdown.signal,
      }));
    log.info(
      "ghcpw {version} Buck2 worker, pid {pid}, in {cwd}, listening on {socket}; ghc {ghc}, server {server}",
      {
        version: VERSION,
        pid: Deno.pid,
        cwd,
        socket: options.listen,
        ghc: options.ghc,
        server: options.serverSocket ?? "the default for that ghc",
      },
    );
    log.info("Stopping on {signal}", { signal: await stopped.promise });
    // Only this worker's own compiles stop (their connections to the server close); the server and
    // its warm GHC processes stay for the next build command.
    shutdown.abort(shuttingDown());
    await server.close(SHUTDOWN_GRACE_MS);
  } finally {
    Deno.removeSignalListener("SIGTERM", onTerm);
    Deno.removeSignalListener("SIGINT", onInt);
  }
  log.info("Stopped");
  return 0;
}

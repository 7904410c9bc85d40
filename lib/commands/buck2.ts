/**
 * `ghcpw buck2`: a Buck2 local persistent worker (WorkerInfo) for GHC.
 *
 * @module
 */

import { explicitSocketPath } from "../address/paths.ts";
import { runBuck2Worker } from "../buck2/worker.ts";
import { WORKER_SOCKET_VARIABLE } from "../buck2/invocation.ts";
import { clientSettings } from "../client/settings.ts";
import { chooseGhc } from "../ghc/installation.ts";
import { setUpLogging } from "../log/logging.ts";
import { LOG_OPTIONS, logLevelOf } from "./log_options.ts";
import { parseOptions } from "./options.ts";
import { UsageError } from "./usage_error.ts";
import { SELECT_OPTIONS, shareOption } from "./select_options.ts";

export const BUCK2_HELP = `ghcpw buck2: a Buck2 persistent worker for GHC

Usage: ghcpw buck2 [OPTIONS]     (as Buck2 starts a WorkerInfo's exe)

Listens on the unix socket $WORKER_SOCKET (Buck2 sets it) and serves Buck2's
worker protocol, gRPC over cleartext HTTP/2: worker.Worker/Execute,
worker.Worker/Exec and worker.WorkerStreaming/ExecuteStream. Each command's
argv is ghc's arguments (Buck2 leaves out the executable) and runs in this
process's working directory, the project root, with the worker's environment
and the action's own over it.

Every command goes to the ghcpw server for this ghc, as 'ghcpw ghc' sends it
(the default socket's server is started if none runs), so its GHC processes
stay warm from one Buck2 command to the next although Buck2 stops its workers
after each. With no usable server, the real ghc runs the command itself.
GHC's stdout and stderr both come back in the response's stderr (Buck2 drops
stdout). An action's timeout stops its compile and is reported as a timeout; a
cancelled or dropped call stops its compile. SIGTERM (Buck2 sends it when its
command ends) stops this worker's compiles and exits; the server stays.

Declare it in Buck2 as WorkerInfo(exe = ["ghcpw", "buck2", "--ghc", GHC]) with
WorkerRunInfo(exe = <a 'ghcpw ghc' wrapper>) for builds without workers; see
examples/buck2.

Options:
  --ghc PATH          the real ghc (default: $GHCPW_GHC, else ghc on PATH)
  --socket PATH       the ghcpw server's socket, as for 'ghcpw ghc' (default:
                      $GHCPW_SOCKET, else the server for this ghc and
                      --package-db list in the runtime directory)
  --package-db PATH   as for 'ghcpw serve' and 'ghcpw ghc' (repeatable)
  --share LIST        as for 'ghcpw ghc': the setting of the server to use (and
                      to start); default: $GHCPW_SHARE, else all
  -v, --verbose       log every command (level debug)
  -q, --quiet         log only warnings and errors
  --log-level LEVEL   trace, debug, info (default), warning or error
  -h, --help          show this help

Logs go to stderr, which Buck2 keeps beside the socket
(/tmp/buck2_worker/<id>/stderr).

Environment:
  WORKER_SOCKET       where to listen (set by Buck2)
  GHCPW_STRICT=1      answer with exit code 2 instead of running ghc directly
                      when the server cannot serve a command
  GHCPW_AUTOSTART     as for 'ghcpw ghc'
`;

/** Runs the subcommand; resolves to the exit code. */
export async function buck2Command(args: string[]): Promise<number> {
  const { values } = parseOptions("buck2", args, {
    ...SELECT_OPTIONS,
    ...LOG_OPTIONS,
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(BUCK2_HELP);
    return 0;
  }
  const listen = Deno.env.get(WORKER_SOCKET_VARIABLE);
  if (!listen) {
    throw new UsageError(
      `ghcpw buck2: $${WORKER_SOCKET_VARIABLE} is not set: Buck2 sets it when it starts a worker ` +
        `(WorkerInfo); to run one by hand, set it to a new socket path\nRun 'ghcpw buck2 --help' for usage.`,
    );
  }
  await setUpLogging(logLevelOf(values));
  const serverSocket = explicitSocketPath(values.socket);
  return await runBuck2Worker({
    listen,
    serverSocket,
    ghc: chooseGhc(values.ghc),
    packageDbs: values["package-db"] ?? [],
    share: shareOption("buck2", values),
    ...clientSettings(serverSocket),
  });
}

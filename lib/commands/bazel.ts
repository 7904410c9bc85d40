/**
 * `ghcpw bazel`: ghcpw as a Bazel persistent worker. Started by Bazel as `ghcpw bazel <startup args>
 * --persistent_worker`, it serves work requests on stdin/stdout through its own pool of warm GHC workers;
 * run as `ghcpw bazel <startup args> @flagfile` (other strategies, remote executors), it runs that one
 * compile on the real ghc, with the same outputs.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { BAZEL_PROTOCOLS, type BazelProtocol } from "../bazel/protocol.ts";
import { expandFlagfiles, isFlagfileArgument } from "../bazel/flagfile.ts";
import { serveBazelWorker, type WorkHandler } from "../bazel/worker.ts";
import { compile, type Compiler } from "../compile/compile.ts";
import { type PreparedGhc, prepareGhc, startCompiler } from "../compile/setup.ts";
import { runRealGhc } from "../ghc/run.ts";
import { Environment } from "../process/environment.ts";
import { chooseGhc, findGhc } from "../ghc/installation.ts";
import { setUpLogging } from "../log/logging.ts";
import { LOG_OPTIONS, logLevelOf } from "./log_options.ts";
import { CollectingSink, processSink } from "../output.ts";
import type { RecycleLimits } from "../pool/pool.ts";
import { VERSION } from "../version.ts";
import { parseOptions, positiveInteger } from "./options.ts";
import { UsageError } from "./usage_error.ts";
import { RECYCLE_HELP, RECYCLE_OPTIONS, recycleLimits } from "./recycling.ts";
import { INCREMENTAL_HELP, INCREMENTAL_OPTIONS, incrementalSettings } from "./incremental_options.ts";
import { SHARE_HELP, shareOption } from "./select_options.ts";
import type { Share } from "../share.ts";

const log = getLogger(["ghcpw", "bazel"]);

export const BAZEL_HELP = `ghcpw bazel: a Bazel persistent worker for GHC

Usage: ghcpw bazel [OPTIONS] --persistent_worker     (as Bazel starts a worker)
       ghcpw bazel [OPTIONS] @FLAGFILE...             (one compile, no worker)
       ghcpw bazel [OPTIONS] -- GHC-ARGS              (one compile, no worker)

With --persistent_worker, reads Bazel's WorkRequests on stdin and writes one
WorkResponse per request on stdout (nothing else goes there; logs go to
stderr, which Bazel keeps in its worker log). Each request's arguments are
ghc's arguments; GHC's messages come back in the response's output. Requests
run in a pool of warm GHC processes that lives in this worker process, so no
'ghcpw serve' is needed. Multiplex requests run concurrently; cancelled ones
are answered with wasCancelled. Sandboxing works both ways: a singleplex worker
(--worker_sandboxing) works where Bazel starts it, a request with a sandbox
directory (multiplex sandboxing) is served there: its arguments, response
files and outputs are relative to it. A request with verbosity 10 or more
(Bazel's --worker_verbose) has its arguments, sandbox, working directory and
time logged.

Without it, runs ghc once on the arguments in the flagfiles (one per line,
as Bazel writes them) and exits with ghc's exit code: what the worker would
have done, for local, sandboxed and remote strategies.

Options:
  --ghc PATH          the ghc to run (default: $GHCPW_GHC, else ghc on PATH)
  --ghc-pkg PATH      its ghc-pkg (default: found beside the ghc)
  -n, --jobs N        GHC worker processes (default: 1 for a singleplex
                      worker, which Bazel sends one request at a time; the
                      number of CPU cores for a multiplex worker)
  --package-db PATH   add '-package-db PATH' ahead of every invocation's own
                      flags (repeatable, in order)
${SHARE_HELP}
  --protocol P        proto or json, as Bazel's 'requires-worker-protocol'
                      (default: detected from the first request)
${RECYCLE_HELP}
${INCREMENTAL_HELP}
  --persistent_worker serve Bazel's worker protocol (Bazel adds this flag)
  -v, --verbose       log every request (level debug)
  -q, --quiet         log only warnings and errors
  --log-level LEVEL   trace, debug, info (default), warning or error
  -h, --help          show this help
`;

/** Runs the subcommand; resolves to the exit code. */
export async function bazelCommand(args: string[]): Promise<number> {
  const dash = args.indexOf("--");
  const { values, positionals } = parseOptions("bazel", dash < 0 ? args : args.slice(0, dash), {
    ghc: { type: "string" },
    "ghc-pkg": { type: "string" },
    jobs: { type: "string", short: "n" },
    "package-db": { type: "string", multiple: true },
    share: { type: "string" },
    protocol: { type: "string" },
    persistent_worker: { type: "boolean" },
    ...RECYCLE_OPTIONS,
    ...INCREMENTAL_OPTIONS,
    ...LOG_OPTIONS,
    help: { type: "boolean", short: "h" },
  }, true);
  if (values.help) {
    console.log(BAZEL_HELP);
    return 0;
  }
  const ghcArgs = dash < 0 ? [] : args.slice(dash + 1);
  const stray = positionals.find((a) => !isFlagfileArgument(a));
  if (stray !== undefined) {
    throw new UsageError(
      `ghcpw bazel: unexpected argument ${JSON.stringify(stray)}: ghc's arguments go in an @flagfile or ` +
        `after --\nRun 'ghcpw bazel --help' for the options.`,
    );
  }
  const protocol = values.protocol;
  if (protocol !== undefined && !(BAZEL_PROTOCOLS as readonly string[]).includes(protocol)) {
    throw new UsageError(`ghcpw bazel: --protocol must be proto or json, got ${JSON.stringify(protocol)}`);
  }
  await setUpLogging(logLevelOf(values));
  const options = {
    ghc: chooseGhc(values.ghc),
    ghcPkg: values["ghc-pkg"],
    jobs: values.jobs === undefined ? undefined : positiveInteger("bazel", "--jobs", values.jobs),
    packageDbs: values["package-db"] ?? [],
    share: shareOption("bazel", values),
    limits: recycleLimits("bazel", values),
    incremental: incrementalSettings("bazel", values),
  };

  if (values.persistent_worker) {
    if (positionals.length > 0 || dash >= 0) {
      throw new UsageError("ghcpw bazel: a persistent worker takes ghc's arguments from its work requests");
    }
    return await runPersistentWorker({ ...options, protocol: protocol as BazelProtocol | undefined });
  }
  if (positionals.length === 0 && dash < 0) {
    throw new UsageError(
      "ghcpw bazel: give --persistent_worker (Bazel does) or an @flagfile\nRun 'ghcpw bazel --help' for usage.",
    );
  }
  return await runOnce(options, [...await expandFlagfiles(positionals, Deno.cwd()), ...ghcArgs]);
}

interface BazelOptions {
  ghc: string;
  ghcPkg?: string;
  jobs?: number;
  packageDbs: string[];
  /** What its GHC workers keep between requests (lib/share.ts). */
  share: Share;
  /** When the worker's pool replaces a GHC process (a one-off compile has none). */
  limits: RecycleLimits;
  /** Incremental `--make` builds (null: off). */
  incremental: { byDefault: boolean; cacheBytes: number } | null;
}

/** One compile without a worker: the real ghc on the expanded arguments, on this process's stdio. */
async function runOnce(options: BazelOptions, argv: string[]): Promise<number> {
  // As compile() runs the real ghc, so both modes run the very same command line.
  return await runRealGhc(
    findGhc(options.ghc),
    { argv, env: Environment.ofThisProcess() },
    options.packageDbs,
    processSink,
  );
}

/** Serves Bazel until it closes stdin or stops the worker with a signal. */
async function runPersistentWorker(options: BazelOptions & { protocol?: BazelProtocol }): Promise<number> {
  // Read before any other work: Deno reads the umask by setting one and putting it back. Bazel's own,
  // which a ghc it ran directly would have had.
  const umask = Deno.umask();
  keepStdoutForResponses();
  const cwd = Deno.cwd();
  // Bazel's own environment for every request: the worker process's, as bytes (see Environment).
  const env = Environment.ofThisProcess();
  log.info("ghcpw {version} Bazel worker, pid {pid}, in {cwd} ({protocol} protocol)", {
    version: VERSION,
    pid: Deno.pid,
    cwd,
    protocol: options.protocol ?? "detected",
  });
  // Inspecting the GHC and checking its plugin start at once; the pool waits for the first request,
  // which tells whether Bazel multiplexes (and so how many GHC processes are worth starting).
  const prepared: Promise<PreparedGhc> = prepareGhc(options.ghc, options.ghcPkg);
  prepared.catch(() => {});
  let compiler: Promise<Compiler> | null = null;
  const compilerFor = (multiplex: boolean) =>
    compiler ??= prepared.then(async (p) => {
      const jobs = options.jobs ?? (multiplex ? navigator.hardwareConcurrency : 1);
      const c = await startCompiler(
        p,
        jobs,
        { packageDbs: options.packageDbs, share: options.share },
        options.limits,
        options.incremental,
      );
      log.info("Serving with GHC {version} ({ghc}), {jobs} GHC worker(s), {mode}", {
        version: p.installation.version,
        ghc: p.installation.ghc,
        jobs,
        mode: multiplex ? "multiplex" : "singleplex",
      });
      return c;
    });

  const handle: WorkHandler = async (request, signal, requestCwd) => {
    const c = await compilerFor(request.requestId !== 0);
    signal.throwIfAborted();
    const sink = new CollectingSink();
    const exitCode = await compile(
      c,
      {
        argv: request.arguments,
        env,
        cwd: requestCwd,
        stderrIsTerminal: false,
        // The response carries both streams as one text: in GHC's order, as in a terminal.
        mergedOutput: true,
        umask,
      },
      sink,
      signal,
    );
    return { exitCode, output: sink.text() };
  };

  const stop = new AbortController();
  const onSignal = () => {
    log.info("Stopping on a signal");
    stop.abort(new Error("stopped by a signal"));
  };
  Deno.addSignalListener("SIGTERM", onSignal);
  Deno.addSignalListener("SIGINT", onSignal);
  let code = 0;
  try {
    await serveBazelWorker({
      input: Deno.stdin.readable,
      output: Deno.stdout.writable,
      protocol: options.protocol,
      handle,
      cwd,
      signal: stop.signal,
    });
  } catch (e) {
    log.error("Bazel worker protocol failed: {error}", { error: e instanceof Error ? e.message : e });
    code = 1;
  } finally {
    Deno.removeSignalListener("SIGTERM", onSignal);
    Deno.removeSignalListener("SIGINT", onSignal);
    const started = await (compiler as Promise<Compiler> | null)?.catch(() => null);
    await started?.pool.close();
  }
  log.info("Stopped");
  return code;
}

/**
 * In worker mode stdout carries responses only; a stray console.log would corrupt the protocol (Bazel:
 * "Did you try to print something to stdout?"), so console output meant for stdout goes to stderr.
 */
function keepStdoutForResponses(): void {
  const toStderr = (...data: unknown[]) => console.error(...data);
  console.log = toStderr;
  console.info = toStderr;
  console.debug = toStderr;
  console.dir = toStderr;
  console.table = toStderr;
}

/**
 * Serving one GHC invocation, whoever asked for it: expand response files, decide between a warm worker
 * and the real ghc (lib/ghc/mode.ts), give the invocation its own temporary directory, and report GHC's
 * exit code. The socket server and the client's fallback both go through here.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { affinityOf } from "./affinity.ts";
import { realGhcArguments, runGhcCaptured } from "../ghc/run.ts";
import { type Plan, planInvocation } from "../ghc/mode.ts";
import type { OutputSink } from "../output.ts";
import type { Pool } from "../pool/pool.ts";
import { makeRequestDir, removeRequestDirLater } from "../pool/request_dir.ts";
import type { CompileRequest } from "../wire/client_protocol.ts";
import type { GhcRun, IncrementalBuilds } from "../incremental/build.ts";
import { timed, type TimeSums } from "../time_sums.ts";

const log = getLogger(["ghcpw", "compile"]);

/** Counters for status reports and tests. */
export interface CompileStats {
  worker: number;
  direct: number;
  deferred: number;
  /** Time requests waited for their directories to be made (`request-dir`), summed, in ms. */
  timesMs: TimeSums;
}

/** What serving needs: the real ghc and the pool of workers for it. */
export interface Compiler {
  ghc: string;
  /** Runs ghc with its stderr on its stdout, for a direct run with merged output (BuiltPlugin.mergedExec). */
  mergedExec: string;
  pool: Pool;
  stats: CompileStats;
  /** Package databases put ahead of every invocation's own flags (the server's --package-db options). */
  packageDbs: string[];
  /** Incremental `--make` builds (lib/incremental/), unless turned off. */
  incremental?: IncrementalBuilds;
}

/**
 * Runs one invocation and resolves to its exit code; output goes to `sink` as it is produced. Aborting
 * `signal` (the client went away) kills the GHC doing the work and rejects with the abort reason.
 */
export async function compile(
  compiler: Compiler,
  request: CompileRequest,
  sink: OutputSink,
  signal?: AbortSignal,
): Promise<number> {
  return (await serve(compiler, request, sink, signal)).code;
}

/** {@linkcode compile}, also saying which modules ran code while compiled, where a worker told. */
async function serve(
  compiler: Compiler,
  request: CompileRequest,
  sink: OutputSink,
  signal?: AbortSignal,
): Promise<GhcRun> {
  const unknown = (code: number): GhcRun => ({ code, ranCode: null });
  const real = await realGhcArguments(request.argv, request.cwd, compiler.packageDbs, sink);
  if (real === null) return unknown(1);
  const { args } = real;
  const plan: Plan = real.expanded
    ? planInvocation(request.argv, args, request.env)
    : { kind: "direct", reason: "a response file is not UTF-8: ghc reads it itself" };
  // Its key reads the environment as text: an environment that is not is simply built without it.
  const textEnv = compiler.incremental && plan.kind === "worker" && plan.mode[0] === "make"
    ? request.env.toRecord()
    : null;
  if (compiler.incremental && plan.kind === "worker" && textEnv !== null) {
    // lib/incremental/ restores saved outputs first and saves and replays warnings after; the build
    // itself is this same compile, without the incremental step.
    const plain = { ...compiler, incremental: undefined };
    return unknown(
      await compiler.incremental.build(
        { ...request, env: textEnv, args: plan.args },
        sink,
        (out) => serve(plain, request, out, signal),
      ),
    );
  }
  const ctx = {
    cwd: request.cwd,
    env: request.env,
    mergedExec: request.mergedOutput ? compiler.mergedExec : undefined,
    umask: request.umask,
  };
  if (plan.kind === "direct") {
    compiler.stats.direct++;
    log.debug("Running ghc directly ({reason})", { reason: plan.reason });
    return unknown(await runGhcCaptured(compiler.ghc, args, ctx, sink, signal));
  }
  compiler.stats.worker++;
  const tmpDir = await timed(compiler.stats.timesMs, "request-dir", () => makeRequestDir());
  try {
    const outcome = await compiler.pool.run(
      {
        mode: plan.mode,
        // GHC's temporary files go into the request's directory (the worker puts them there, while GHC
        // still sees the client's own temporary directory, as ghc would).
        args: plan.args,
        cwd: request.cwd,
        tmpDir,
        env: request.env,
        stderrIsTerminal: request.stderrIsTerminal,
        mergedOutput: request.mergedOutput,
        umask: request.umask,
      },
      sink,
      signal,
      affinityOf(args, request.env),
    );
    if (outcome.kind === "exit") {
      return {
        code: outcome.code,
        ranCode: outcome.ranCode === undefined ? null : new Set(outcome.ranCode),
        staleModules: outcome.staleModules,
        moduleSources: outcome.moduleSources,
      };
    }
    compiler.stats.deferred++;
    log.debug("Worker deferred to ghc ({reason})", { reason: outcome.reason });
    return unknown(await runGhcCaptured(compiler.ghc, args, ctx, sink, signal));
  } finally {
    removeRequestDirLater(tmpDir);
  }
}

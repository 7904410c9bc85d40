/**
 * Serving one GHC invocation, whoever asked for it: expand response files, decide between a warm worker
 * and the real ghc (lib/ghc/mode.ts), give the invocation its own temporary directory, and report GHC's
 * exit code. The socket server and the client's fallback both go through here.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { affinityOf } from "./affinity.ts";
import { runGhcCaptured } from "../ghc/run.ts";
import { planInvocation } from "../ghc/mode.ts";
import type { OutputSink } from "../output.ts";
import type { Pool } from "../pool/pool.ts";
import { makeRequestDir } from "../pool/request_dir.ts";
import type { CompileRequest } from "../wire/protocol.ts";
import { expandResponseFiles, ResponseFileError } from "../ghc/response_file.ts";

const log = getLogger(["ghcpw", "compile"]);
const encoder = new TextEncoder();

/** Counters for status reports and tests. */
export interface CompileStats {
  worker: number;
  direct: number;
  deferred: number;
}

/** What serving needs: the real ghc and the pool of workers for it. */
export interface Compiler {
  ghc: string;
  pool: Pool;
  stats: CompileStats;
  /** Arguments put ahead of every invocation's own (the server's --package-db options). */
  extraArgs: string[];
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
  let args: string[];
  try {
    args = [...compiler.extraArgs, ...await expandResponseFiles(request.argv, request.cwd)];
  } catch (e) {
    if (!(e instanceof ResponseFileError)) throw e;
    await sink.stderr(encoder.encode(`${e.message}\n`));
    return 1;
  }
  const plan = planInvocation(request.argv, args, request.env);
  const ctx = { cwd: request.cwd, env: request.env };
  if (plan.kind === "direct") {
    compiler.stats.direct++;
    log.debug("Running ghc directly ({reason})", { reason: plan.reason });
    return await runGhcCaptured(compiler.ghc, args, ctx, sink, signal);
  }
  compiler.stats.worker++;
  const tmpDir = await makeRequestDir();
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
      },
      sink,
      signal,
      affinityOf(args, request.env),
    );
    if (outcome.kind === "exit") return outcome.code;
    compiler.stats.deferred++;
    log.debug("Worker deferred to ghc ({reason})", { reason: outcome.reason });
    return await runGhcCaptured(compiler.ghc, args, ctx, sink, signal);
  } finally {
    await Deno.remove(tmpDir, { recursive: true }).catch(() => {});
  }
}

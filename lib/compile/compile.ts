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
import { planInvocation } from "../ghc/mode.ts";
import type { OutputSink } from "../output.ts";
import type { Pool } from "../pool/pool.ts";
import { makeRequestDir } from "../pool/request_dir.ts";
import type { CompileRequest } from "../wire/client_protocol.ts";

const log = getLogger(["ghcpw", "compile"]);

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
  /** Package databases put ahead of every invocation's own flags (the server's --package-db options). */
  packageDbs: string[];
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
  const args = await realGhcArguments(request.argv, request.cwd, compiler.packageDbs, sink);
  if (args === null) return 1;
  const plan = planInvocation(request.argv, args, request.env);
  const ctx = { cwd: request.cwd, env: request.env, umask: request.umask };
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
        // Ahead of the request's own flags, so an explicit -tmpdir still wins. A directory of its own keeps
        // GHC's temporary file names (and so dlopen's cache of loaded libraries) apart between requests.
        args: ["-tmpdir", tmpDir, ...plan.args],
        cwd: request.cwd,
        tmpDir,
        env: request.env,
        stderrIsTerminal: request.stderrIsTerminal,
        umask: request.umask,
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

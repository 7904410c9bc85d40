/**
 * Running the real ghc for an invocation: for what a worker does not serve (lib/ghc/mode.ts), for what
 * a worker defers, for the client's fallback when no server answers, and for a one-off Bazel compile.
 * All of them run the same command line a worker would have run ({@linkcode realGhcArguments}), so
 * which path an invocation takes never changes its result.
 *
 * @module
 */

import { type OutputSink, processSink } from "../output.ts";
import { exitCodeOf, settledStatus } from "../process/exit_status.ts";
import { killAndWait } from "../process/kill.ts";
import { expandResponseFiles, ResponseFileError } from "./response_file.ts";
import type { Environment } from "../process/environment.ts";

const encoder = new TextEncoder();

/** The arguments ghc gets for an invocation (see {@linkcode realGhcArguments}). */
export interface RealGhcArguments {
  args: string[];
  /** False: a response file is not UTF-8 and stays in `args` for the real ghc to read (no worker can). */
  expanded: boolean;
}

/**
 * The arguments ghc gets for an invocation wherever it runs: `-package-db` for each of the server's
 * `packageDbs` ahead of the invocation's own arguments, whose response files are expanded (as GHC 9.4+
 * does, so that older GHCs behave the same) unless one is not UTF-8. A response file that cannot be
 * read makes it null, after its error has been written to `sink` as GHC writes it (GHC then exits with 1).
 */
export async function realGhcArguments(
  argv: string[],
  cwd: string,
  packageDbs: readonly string[],
  sink: OutputSink,
): Promise<RealGhcArguments | null> {
  try {
    const expanded = await expandResponseFiles(argv, cwd);
    return {
      args: [...packageDbs.flatMap((db) => ["-package-db", db]), ...expanded ?? argv],
      expanded: expanded !== null,
    };
  } catch (e) {
    if (!(e instanceof ResponseFileError)) throw e;
    await sink.stderr(encoder.encode(`${e.message}\n`));
    return null;
  }
}

/**
 * Runs the real ghc on an invocation as a worker would have run it (see {@linkcode realGhcArguments});
 * resolves to its exit code. With this process's own sink, ghc inherits its stdio (and so a terminal);
 * otherwise its output is streamed into `sink`, and aborting `signal` kills it.
 */
export async function runRealGhc(
  ghc: string,
  invocation: DirectContext & { argv: string[] },
  packageDbs: readonly string[],
  sink: OutputSink,
  signal?: AbortSignal,
): Promise<number> {
  const real = await realGhcArguments(invocation.argv, invocation.cwd ?? ".", packageDbs, sink);
  if (real === null) return 1;
  const { args } = real;
  return sink === processSink
    ? await runGhcInherited(ghc, args, invocation)
    : await runGhcCaptured(ghc, args, invocation, sink, signal);
}

/**
 * Where and how to run: the invocation's own working directory and complete environment, and for a
 * server running it for a client, the client's file-creation mask (otherwise ghc has this process's).
 */
export interface DirectContext {
  /** Undefined: this process's own (which may not be UTF-8, and so have no name Deno can give). */
  cwd?: string;
  env: Environment;
  /**
   * Set: capture stdout and stderr as one stream, sent to the sink's stdout (see CompileRequest), by
   * running ghc through this program (BuiltPlugin.mergedExec).
   */
  mergedExec?: string;
  umask?: number;
}

function command(ghc: string, args: string[], ctx: DirectContext, stdio: "piped" | "inherit"): Deno.Command {
  // Deno pipes the two streams apart; the helper gives ghc one pipe for both, so that their order
  // survives, and then execs it: the child is ghc itself, its exit status and signals ghc's.
  const merged = stdio === "piped" ? ctx.mergedExec : undefined;
  return new Deno.Command(merged ?? ghc, {
    args: merged === undefined ? args : [ghc, ...args],
    cwd: ctx.cwd,
    ...childEnvironment(ctx.env),
    stdin: stdio === "inherit" ? "inherit" : "null",
    stdout: stdio,
    stderr: stdio,
  });
}

/**
 * An environment this process cannot give a child: Deno passes environments on as text only, and this one
 * holds bytes that are not UTF-8. Only the client, whose own environment it is, can run ghc with it.
 */
export class EnvironmentNotText extends Error {
  override name = "EnvironmentNotText";
  constructor() {
    super("the environment holds a variable that is not UTF-8, which only the client can pass on to ghc");
  }
}

/** How a child gets `env`: inherited untouched if it is this process's own, else in full as text. */
function childEnvironment(env: Environment): { env?: Record<string, string>; clearEnv?: boolean } {
  if (env.own) return {};
  const record = env.toRecord();
  if (record === null) throw new EnvironmentNotText();
  return { env: record, clearEnv: true };
}

/** Runs ghc with its output streamed into `sink`; resolves to its exit code. Aborting kills it. */
export async function runGhcCaptured(
  ghc: string,
  args: string[],
  ctx: DirectContext,
  sink: OutputSink,
  signal?: AbortSignal,
): Promise<number> {
  signal?.throwIfAborted();
  const child = spawnWithUmask(command(ghc, args, ctx, "piped"), ctx.umask);
  const kill = () => killAndWait(child);
  signal?.addEventListener("abort", kill, { once: true });
  const pump = async (stream: ReadableStream<Uint8Array>, write: (c: Uint8Array) => Promise<void>) => {
    for await (const chunk of stream) await write(chunk);
  };
  try {
    await Promise.all([
      pump(child.stdout, (c) => sink.stdout(c)),
      pump(child.stderr, (c) => sink.stderr(c)),
    ]);
  } catch (e) {
    // The receiver is gone: nobody wants this compile any more.
    await killAndWait(child);
    throw e;
  } finally {
    signal?.removeEventListener("abort", kill);
  }
  const status = await settledStatus(child.status);
  signal?.throwIfAborted();
  return exitCodeOf(status);
}

/**
 * Starts `cmd` with the file-creation mask `umask` (undefined: this process's). A child gets its umask from
 * its parent at fork, and Deno spawns synchronously, so this process's mask is set just around the spawn:
 * exact for the child, with its arguments and environment untouched (a `sh -c 'umask ...; exec ...'`
 * wrapper would not be: dash adds PWD and resets IFS in what it passes on). Meanwhile nothing else of
 * this process runs, except a file operation already handed to Deno's I/O threads.
 */
function spawnWithUmask(cmd: Deno.Command, umask: number | undefined): Deno.ChildProcess {
  if (umask === undefined) return cmd.spawn();
  const own = Deno.umask(umask);
  try {
    return cmd.spawn();
  } finally {
    Deno.umask(own);
  }
}

/** Runs ghc on the caller's own stdio; resolves to its exit code. */
export async function runGhcInherited(ghc: string, args: string[], ctx: DirectContext): Promise<number> {
  return exitCodeOf(
    await settledStatus(spawnWithUmask(command(ghc, args, ctx, "inherit"), ctx.umask).status),
  );
}

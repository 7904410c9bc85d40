/**
 * Running the real ghc for an invocation: for what a worker does not serve (lib/ghc/mode.ts), for what
 * a worker defers, and for the client's fallback when no server answers.
 *
 * @module
 */

import type { OutputSink } from "../output.ts";

/** Where and how to run: the invocation's own working directory and complete environment. */
export interface DirectContext {
  cwd: string;
  env: Record<string, string>;
}

/** The exit code a shell would report for a status (128 + signal number for a killed process). */
export function exitCodeOf(status: Deno.CommandStatus): number {
  if (status.signal === null) return status.code;
  const numbers: Record<string, number> = {
    SIGHUP: 1,
    SIGINT: 2,
    SIGQUIT: 3,
    SIGKILL: 9,
    SIGSEGV: 11,
    SIGTERM: 15,
  };
  return 128 + (numbers[status.signal] ?? 0);
}

function command(ghc: string, args: string[], ctx: DirectContext, stdio: "piped" | "inherit"): Deno.Command {
  return new Deno.Command(ghc, {
    args,
    cwd: ctx.cwd,
    env: ctx.env,
    clearEnv: true,
    stdin: stdio === "inherit" ? "inherit" : "null",
    stdout: stdio,
    stderr: stdio,
  });
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
  const child = command(ghc, args, ctx, "piped").spawn();
  const kill = () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // exited meanwhile
    }
  };
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
    kill();
    await child.status;
    throw e;
  } finally {
    signal?.removeEventListener("abort", kill);
  }
  const status = await child.status;
  signal?.throwIfAborted();
  return exitCodeOf(status);
}

/** Runs ghc on the caller's own stdio; resolves to its exit code. */
export async function runGhcInherited(ghc: string, args: string[], ctx: DirectContext): Promise<number> {
  return exitCodeOf(await command(ghc, args, ctx, "inherit").output());
}

/**
 * The benchmark's ghcpw server and the ways it runs one GHC invocation: the real ghc, or the
 * `ghcpw ghc --` client as a subprocess (what a build system runs per module).
 *
 * @module
 */

import { killAndWait } from "../../lib/process/kill.ts";
import { progress, timeCommand, type Timed } from "./process.ts";

/** ghcpw's entry point (this checkout's), run with `deno run -A` for the server and every client call. */
export const GHCPW_MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** A running `ghcpw serve`. */
export interface RunningServer {
  child: Deno.ChildProcess;
  socket: string;
  jobs: number;
  /** Resolves once the server's stderr has been read to the end. */
  drained: Promise<void>;
  /** Spawn to "Serving GHC", in ms. */
  startMs: number;
}

/** How a build runs one GHC invocation: with the real ghc, or through the ghcpw client. */
export type GhcRunner = (args: string[], cwd: string) => Promise<Timed>;

/** Runs the real ghc. */
export function coldRunner(ghc: string): GhcRunner {
  return (args, cwd) => timeCommand(ghc, args, cwd);
}

/** Runs `ghcpw ghc --` against the given socket, strictly (no silent fallback to ghc). */
export function ghcpwRunner(ghcpwMain: string, ghc: string, socket: string): GhcRunner {
  return (args, cwd) =>
    timeCommand(
      Deno.execPath(),
      ["run", "-A", ghcpwMain, "ghc", "--socket", socket, "--ghc", ghc, "--", ...args],
      cwd,
      { GHCPW_STRICT: "1" },
    );
}

/**
 * Starts `ghcpw serve` on `socket` with `jobs` workers (and `extraArgs`) and resolves once it says
 * "Serving GHC"; its log (at debug level with `verbose`, which also echoes it) is kept in memory for
 * the error message of a server that fails.
 */
export async function startServer(
  ghcpwMain: string,
  ghc: string,
  socket: string,
  jobs: number,
  verbose: boolean,
  extraArgs: string[] = [],
): Promise<RunningServer> {
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      ghcpwMain,
      "serve",
      "--socket",
      socket,
      "-n",
      String(jobs),
      "--ghc",
      ghc,
      ...verbose ? ["-v"] : [],
      ...extraArgs,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const log: string[] = [];
  const ready = Promise.withResolvers<void>();
  const drained = (async () => {
    let pending = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      pending += chunk;
      let newline;
      while ((newline = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        log.push(line);
        if (verbose) progress(`    server: ${line}`);
        if (line.includes("Serving GHC")) ready.resolve();
      }
    }
    if (pending !== "") log.push(pending);
    ready.reject(new Error(`ghcpw serve exited before it was ready:\n${log.join("\n")}`));
  })();
  const timeout = setTimeout(() => ready.reject(new Error("ghcpw serve was not ready after 300 s")), 300_000);
  try {
    await ready.promise;
  } catch (e) {
    await killAndWait(child);
    throw e;
  } finally {
    clearTimeout(timeout);
  }
  return { child, socket, jobs, drained, startMs: performance.now() - started };
}

/** Stops a server with SIGTERM (it finishes running compiles), or SIGKILL if it takes over 20 s. */
export async function stopServer(server: RunningServer): Promise<void> {
  const timer = setTimeout(() => killAndWait(server.child), 20_000);
  await killAndWait(server.child, { signal: "SIGTERM" });
  clearTimeout(timer);
  await server.drained.catch(() => {});
}

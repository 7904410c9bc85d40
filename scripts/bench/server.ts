/**
 * The benchmark's ghcpw server and the ways it runs one GHC invocation: the real ghc, or the
 * `ghcpw ghc --` client as a subprocess (what a build system runs per module).
 *
 * @module
 */

import { cacheDir } from "../../lib/address/paths.ts";
import { killAndWait } from "../../lib/process/kill.ts";
import { progress, timeCommand, type Timed } from "./process.ts";
import { DEFAULT_SHARE, formatShare } from "../../lib/share.ts";

/** ghcpw's entry point (this checkout's), run with `deno run -A` for the server and every client call. */
export const GHCPW_MAIN = new URL("../../main.ts", import.meta.url).pathname;

/**
 * Makes `dir` a cache home (`XDG_CACHE_HOME`) for a server of its own: an empty incremental cache, so its
 * counts and size are that server's alone, and the user's plugin build, so it need not build the plugin.
 * Resolves to `dir`.
 */
export async function privateCacheHome(dir: string): Promise<string> {
  await Deno.mkdir(`${dir}/ghcpw`, { recursive: true });
  await Deno.mkdir(`${cacheDir()}/plugins`, { recursive: true });
  await Deno.symlink(`${cacheDir()}/plugins`, `${dir}/ghcpw/plugins`);
  return dir;
}

/** A running `ghcpw serve`. */
export interface RunningServer {
  child: Deno.ChildProcess;
  socket: string;
  jobs: number;
  /** Resolves once the server's stderr has been read to the end. */
  drained: Promise<void>;
  /** Spawn to "Serving GHC", in ms. */
  startMs: number;
  /** Its `--share` setting (lib/share.ts), which its clients must name too. */
  share: string;
}

/**
 * What the client runs under: `deno` with these arguments before the script. The client-overhead
 * measurement runs an empty script the same way, as the floor of any Deno client.
 */
export const DENO_RUN_ARGS = ["run", "-A"];

/** How a build runs one GHC invocation: with the real ghc, or through the ghcpw client. */
export type GhcRunner = (args: string[], cwd: string) => Promise<Timed>;

/** Runs the real ghc. */
export function coldRunner(ghc: string): GhcRunner {
  return (args, cwd) => timeCommand(ghc, args, cwd);
}

/**
 * Runs `ghcpw ghc --` against the given socket, strictly (no silent fallback to ghc), naming the server's
 * share setting (whether names are kept is in the server key).
 */
export function ghcpwRunner(
  ghcpwMain: string,
  ghc: string,
  socket: string,
  share = formatShare(DEFAULT_SHARE),
): GhcRunner {
  return (args, cwd) =>
    timeCommand(
      Deno.execPath(),
      [...DENO_RUN_ARGS, ghcpwMain, "ghc", "--socket", socket, "--ghc", ghc, "--", ...args],
      cwd,
      { GHCPW_STRICT: "1", GHCPW_SHARE: share },
    );
}

/**
 * Starts `ghcpw serve` on `socket` with `jobs` workers (and `extraArgs`, `--share share`, and `env` added to
 * its environment) and resolves once it says "Serving GHC"; its log (at debug level with `verbose`, which
 * also echoes it) is kept in memory for
 * the error message of a server that fails.
 */
export async function startServer(
  ghcpwMain: string,
  ghc: string,
  socket: string,
  jobs: number,
  verbose: boolean,
  extraArgs: string[] = [],
  share = formatShare(DEFAULT_SHARE),
  env: Record<string, string> = {},
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
      "--share",
      share,
    ],
    env,
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
  return { child, socket, jobs, drained, startMs: performance.now() - started, share };
}

/** Stops a server with SIGTERM (it finishes running compiles), or SIGKILL if it takes over 20 s. */
export async function stopServer(server: RunningServer): Promise<void> {
  const timer = setTimeout(() => killAndWait(server.child), 20_000);
  await killAndWait(server.child, { signal: "SIGTERM" });
  clearTimeout(timer);
  await server.drained.catch(() => {});
}

/**
 * Helpers for the suites that treat ghcpw as a service (lifecycle, faults, fuzzing, security): isolated
 * runtime and state directories, clients as real processes that can be killed, waiting on processes,
 * and the check that a server is healthy after a fault.
 *
 * @module
 */

import { assert } from "./assert.ts";
import { assertSameRun, GHC, ghc, ghcpw, ghcpwCli, type Run, run, writeTree } from "./helpers.ts";
import { answers } from "../../lib/client/autostart.ts";
import { findGhcPkg, realExecutablePath } from "../../lib/ghc/installation.ts";
import { killAndWait } from "../../lib/process/kill.ts";
import { sendControl } from "../../lib/client/control.ts";
import { runtimeDir } from "../../lib/address/paths.ts";
import { processAlive } from "../../lib/process/state.ts";
import { readToken } from "../../lib/address/token.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const MAIN = `${ROOT}/main.ts`;
const decoder = new TextDecoder();

/** A runtime and state directory of a test's own, so auto-started servers never meet the user's. */
export interface Isolated {
  /** Environment additions that point ghcpw at the directories. */
  env: Record<string, string>;
  /** ghcpw's runtime directory inside ($XDG_RUNTIME_DIR/ghcpw). */
  runtime: string;
  root: string;
  /** Stops every server started there and removes the directories. */
  cleanup(): Promise<void>;
}

/** Creates an isolated environment (short paths: socket paths have a length limit). */
export async function isolated(extraEnv: Record<string, string> = {}): Promise<Isolated> {
  const root = await Deno.makeTempDir({ prefix: "gpw-" });
  await Deno.mkdir(`${root}/rt`, { mode: 0o700 });
  await Deno.chmod(`${root}/rt`, 0o700);
  const env = { XDG_RUNTIME_DIR: `${root}/rt`, XDG_STATE_HOME: `${root}/state`, ...extraEnv };
  return {
    env,
    runtime: `${root}/rt/ghcpw`,
    root,
    async cleanup() {
      await ghcpwCli(["stop", "--wait", "20s"], { env }).catch(() => {});
      for (const pid of serverPids(root)) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // gone
        }
      }
      await Deno.remove(root, { recursive: true }).catch(() => {});
    },
  };
}

/** Pids of `ghcpw serve` processes whose command line mentions `text` (a directory of the test's). */
export function serverPids(text: string): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const cmdline = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).split("\0");
      if (
        cmdline.includes("serve") && cmdline.some((a) => a.includes(text)) && processAlive(Number(entry.name))
      ) {
        pids.push(Number(entry.name));
      }
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/** Waits until `condition` holds (polling), or fails with `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
  pollMs = 20,
): Promise<number> {
  const start = performance.now();
  while (!await condition()) {
    if (performance.now() - start > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
  return performance.now() - start;
}

/** A ghcpw process running in the background: kill it, or wait for its result. */
export interface Spawned {
  child: Deno.ChildProcess;
  result: Promise<Run & { signal: Deno.Signal | null }>;
}

/** Starts `ghcpw ARGS` as a process of its own. */
export function spawnCli(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Spawned {
  return spawnProcess("deno", ["run", "-A", MAIN, ...args], options);
}

/** Starts a command as a process of its own. */
export function spawnProcess(
  command: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Spawned {
  const child = new Deno.Command(command, {
    args,
    cwd: options.cwd,
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const result = child.output().then((out) => ({
    code: out.code,
    signal: out.signal,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  }));
  return { child, result };
}

/**
 * Starts `ghcpw serve -n 1` on `socket` with `standIn` as its ghc (a wrapper that runs the suites' ghc
 * in the end; no ghc-pkg is beside it, so the suites' own is named) and waits until it answers.
 */
export async function serveStandIn(socket: string, standIn: string): Promise<Spawned> {
  const version = (await run(GHC, ["--numeric-version"])).stdout.trim();
  const ghcPkg = findGhcPkg(realExecutablePath(GHC), version);
  const server = spawnCli(["serve", "--socket", socket, "--ghc", standIn, "--ghc-pkg", ghcPkg, "-n", "1"]);
  try {
    await waitFor("the server to answer", () => answers(socket), 120_000, 50);
  } catch (e) {
    await killAndWait(server.child);
    throw e;
  }
  return server;
}

/** A strict client (`ghcpw ghc --socket S --ghc GHC -- args`) as a process of its own. */
export function spawnClient(
  socket: string | null,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Spawned {
  const socketArgs = socket === null ? [] : ["--socket", socket];
  return spawnCli(["ghc", ...socketArgs, "--ghc", GHC, "--", ...args], {
    cwd,
    env: { GHCPW_STRICT: "1", ...env },
  });
}

/** A module whose compile takes `ms` milliseconds in a Template Haskell splice, printing nothing. */
export function slowModule(name: string, ms: number): string {
  return `{-# LANGUAGE TemplateHaskell #-}
module ${name} (slow) where

import Control.Concurrent (threadDelay)
import Language.Haskell.TH.Syntax (lift, runIO)

slow :: Int
slow = $(runIO (threadDelay ${ms * 1000}) >> lift (42 :: Int))
`;
}

/** A small module of its own name. */
export function plainModule(name: string, value = 1): string {
  return `module ${name} (value) where\n\nvalue :: Int\nvalue = ${value}\n`;
}

/** Two identical trees, "cold" for plain ghc and "warm" for ghcpw. */
export async function twinTrees(files: Record<string, string>): Promise<{ cold: string; warm: string }> {
  const root = await Deno.makeTempDir({ prefix: "ghcpw-svc-" });
  await writeTree(`${root}/cold`, files);
  await writeTree(`${root}/warm`, files);
  return { cold: `${root}/cold`, warm: `${root}/warm` };
}

/**
 * Replaces the names of GHC's temporary files, which differ between any two runs of ghc: a cold ghc's
 * directory is named by its pid, a worker's lies in the request's directory, and the file numbers follow
 * a counter of the process.
 */
export function normaliseTemporaries(text: string): string {
  return text.replace(/\/\S*?\/(ghc\d+_\d+|ghcpw-request-[^/\s]+\/ghc)\/ghc_\d+/g, "<tmp>/ghc_N");
}

/** The token of the runtime directory that `env` selects (as a ghcpw process in `env` would read it). */
export function tokenFor(env: Record<string, string> = {}): string {
  const dir = env.XDG_RUNTIME_DIR ? `${env.XDG_RUNTIME_DIR}/ghcpw` : runtimeDir();
  return readToken(dir) ?? "";
}

/** The server's status (what `ghcpw status --json` prints), asked in the environment `env`. */
export async function statusOf(
  socket: string,
  env: Record<string, string> = {},
): Promise<Record<string, unknown>> {
  return await sendControl(socket, "status", tokenFor(env));
}

/** Workers of a status, typed for the suites. */
export function workersOf(
  status: Record<string, unknown>,
): { pid: number; state: string; requests: number }[] {
  return status.workers as { pid: number; state: string; requests: number }[];
}

/**
 * Asserts that the server on `socket` is healthy: every worker alive and idle, `jobs` of them, and a new
 * compile through it gives exactly what plain ghc gives.
 */
export async function assertHealthy(
  socket: string,
  jobs: number,
  env: Record<string, string> = {},
): Promise<void> {
  const name = `Healthy${crypto.randomUUID().slice(0, 8).replace(/-/g, "")}`;
  const trees = await twinTrees({ [`${name}.hs`]: plainModule(name, 7) });
  const args = ["-c", `${name}.hs`];
  assertSameRun(await ghcpw(socket, args, trees.warm, env), await ghc(args, trees.cold));
  assert((await Deno.stat(`${trees.warm}/${name}.hi`)).isFile);
  // A replacement worker may still be starting right after a fault.
  await waitFor("every worker to be back and idle", async () => {
    const workers = workersOf(await statusOf(socket, env));
    return workers.length === jobs && workers.every((w) => w.state === "idle" && processAlive(w.pid));
  });
}

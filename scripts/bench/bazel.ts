/**
 * The benchmark's Bazel path: a `ghcpw bazel --persistent_worker` process fed work requests as Bazel feeds
 * them (proto framing; singleplex, one request at a time with id 0, for one job; multiplex, one request
 * per job in flight with ids of their own, for more), so a per-module compile costs no client process.
 * The worker lives in one tree: Bazel runs a worker in the execroot, and requests' paths are relative to it.
 *
 * @module
 */

import { encodeRequest, readResponses, workRequest, type WorkResponse } from "../../lib/bazel/protocol.ts";
import { killAndWait } from "../../lib/process/kill.ts";
import type { GhcRunner } from "./server.ts";

/** A running Bazel worker and the runner that sends it one compile. */
export interface BazelWorker {
  /** Sends one compile (its arguments, relative to `cwd`) and resolves to its time and output. */
  runner: GhcRunner;
  /** Closes the worker's input (Bazel's way of ending a worker) and waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * Starts `ghcpw bazel ARGS --persistent_worker` in `cwd` (`env` added to its environment), with its stdin,
 * stdout and stderr piped, as Bazel starts a worker; the caller must read stderr.
 */
export function spawnBazelWorker(
  ghcpwMain: string,
  ghc: string,
  cwd: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ghcpwMain, "bazel", "--ghc", ghc, ...args, "--persistent_worker"],
    cwd,
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/**
 * Starts `ghcpw bazel --persistent_worker --share SHARE` in `cwd` with `jobs` GHC processes: singleplex
 * for one job, multiplex for more.
 */
export function startBazelWorker(
  ghcpwMain: string,
  ghc: string,
  cwd: string,
  jobs: number,
  share: string,
): BazelWorker {
  const child = spawnBazelWorker(ghcpwMain, ghc, cwd, ["-n", String(jobs), "-q", "--share", share]);
  const stderr = new Response(child.stderr).text();
  const stdin = child.stdin.getWriter();
  const waiting = new Map<number, (r: WorkResponse) => void>();
  const reading = (async () => {
    for await (const response of readResponses(child.stdout, "proto")) {
      const resolve = waiting.get(response.requestId);
      waiting.delete(response.requestId);
      resolve?.(response);
    }
  })();
  const multiplex = jobs > 1;
  let nextId = 1;
  let singleplexTurn: Promise<unknown> = Promise.resolve();
  const send = async (args: string[]) => {
    const requestId = multiplex ? nextId++ : 0;
    const answered = new Promise<WorkResponse>((resolve) => waiting.set(requestId, resolve));
    const started = performance.now();
    await stdin.write(encodeRequest("proto", workRequest({ arguments: args, requestId })));
    const response = await Promise.race([
      answered,
      reading.then(async () => {
        throw new Error(`ghcpw bazel exited without answering:\n${await stderr}`);
      }),
    ]);
    return { ms: performance.now() - started, code: response.exitCode, stdout: "", stderr: response.output };
  };
  return {
    runner: (args, dir) => {
      if (dir !== cwd) throw new Error(`the Bazel worker runs in ${cwd}, not ${dir}`);
      if (multiplex) return send(args);
      // Bazel sends a singleplex worker its next request only after the last response.
      const turn = singleplexTurn.then(() => send(args));
      singleplexTurn = turn.catch(() => {});
      return turn;
    },
    async stop() {
      await stdin.close().catch(() => {});
      const timer = setTimeout(() => killAndWait(child), 20_000);
      await child.status;
      clearTimeout(timer);
      await reading.catch(() => {});
      await stderr.catch(() => "");
    },
  };
}

/**
 * The ghcpw client run inside the benchmark's own process (lib/client.ts's `runClient`), so a request
 * costs no Deno start-up: its wall time is the server's and the worker's time plus a socket round trip.
 * Comparing it with `ghcpw ghc` as a subprocess gives the client's own per-request overhead, and it
 * drives thousands of requests cheaply for the worker-memory measurement.
 *
 * `runClient` works in the process's working directory and prints GHC's output through
 * lib/output.ts's `processSink`; both are process-wide, so requests here run one at a time, with the
 * directory changed and the sink redirected into memory for each.
 *
 * @module
 */

import { runClient } from "../../lib/client.ts";
import { processSink } from "../../lib/output.ts";
import { sendControl } from "../../lib/control.ts";
import { ensureRuntimeDir } from "../../lib/runtime_dir.ts";
import { readToken } from "../../lib/token.ts";
import type { Timed } from "./process.ts";

let queue: Promise<unknown> = Promise.resolve();

/** Runs `f` after every earlier call has finished. */
function serialised<T>(f: () => Promise<T>): Promise<T> {
  const result = queue.then(f);
  queue = result.catch(() => {});
  return result;
}

/**
 * Sends one invocation to the server on `socket` through lib/client.ts, strictly (no fallback), as if
 * `ghcpw ghc --socket SOCKET --ghc GHC -- ARGS` ran in `cwd`; resolves to its wall time, exit code and
 * output.
 */
export function inProcessGhcpw(socket: string, ghc: string, args: string[], cwd: string): Promise<Timed> {
  return serialised(async () => {
    const decoder = new TextDecoder();
    const streams = { stdout: "", stderr: "" };
    const saved = { stdout: processSink.stdout, stderr: processSink.stderr };
    processSink.stdout = (chunk) => {
      streams.stdout += decoder.decode(chunk, { stream: true });
      return Promise.resolve();
    };
    processSink.stderr = (chunk) => {
      streams.stderr += decoder.decode(chunk, { stream: true });
      return Promise.resolve();
    };
    const before = Deno.cwd();
    Deno.chdir(cwd);
    const started = performance.now();
    try {
      const code = await runClient({ socketPath: socket, ghc, strict: true, argv: args, autostart: false });
      return { ms: performance.now() - started, code, ...streams };
    } finally {
      Deno.chdir(before);
      processSink.stdout = saved.stdout;
      processSink.stderr = saved.stderr;
    }
  });
}

/** One worker as `ghcpw status --json` reports it. */
export interface WorkerStatus {
  pid: number;
  state: string;
  requests: number;
  rssBytes: number | null;
}

/** The server's status (what `ghcpw status --json` prints), asked in-process. */
export async function serverStatus(socket: string): Promise<Record<string, unknown>> {
  const token = await readToken(await ensureRuntimeDir());
  return await sendControl(socket, "status", token ?? "");
}

/**
 * The ghcpw client run inside the benchmark's own process (lib/client.ts's `runClient`), so a request
 * costs no Deno start-up: it drives thousands of requests cheaply for the worker-memory measurement, and
 * asks the server for its status.
 *
 * @module
 */

import { runClient } from "../../lib/client.ts";
import { CollectingSink } from "../../lib/output.ts";
import { sendControl } from "../../lib/control.ts";
import { ensureRuntimeDir } from "../../lib/runtime_dir.ts";
import { readToken } from "../../lib/token.ts";
import type { Timed } from "./process.ts";

/**
 * Sends one invocation to the server on `socket` through lib/client.ts, strictly (no fallback), as if
 * `ghcpw ghc --socket SOCKET --ghc GHC -- ARGS` ran in `cwd`; resolves to its wall time, exit code and
 * output (both streams in `stderr`, interleaved as they arrived).
 */
export async function inProcessGhcpw(
  socket: string,
  ghc: string,
  args: string[],
  cwd: string,
): Promise<Timed> {
  const sink = new CollectingSink();
  const started = performance.now();
  const code = await runClient({
    socketPath: socket,
    ghc,
    strict: true,
    argv: args,
    autostart: false,
    cwd,
    sink,
  });
  return { ms: performance.now() - started, code, stdout: "", stderr: sink.text() };
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

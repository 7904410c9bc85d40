/**
 * The ghcpw client run inside the benchmark's own process (lib/client/client.ts's `runClient`), so a request
 * costs no Deno start-up: it drives thousands of requests cheaply for the worker-memory measurement, and
 * asks the server for its status.
 *
 * @module
 */

import { runClient } from "../../lib/client/client.ts";
import { CollectingSink } from "../../lib/output.ts";
import { sendControl } from "../../lib/client/control.ts";
import { ensureRuntimeDir } from "../../lib/address/runtime_dir.ts";
import { readToken } from "../../lib/address/token.ts";
import type { Timed } from "./process.ts";

/**
 * Sends one invocation to the server on `socket` through lib/client/client.ts, strictly (no fallback), as if
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
  const token = readToken(await ensureRuntimeDir());
  return await sendControl(socket, "status", token ?? "");
}

/** The server's status totals that the benchmark reads (see lib/server/status.ts). */
export interface Totals {
  requests: number;
  fallbacks: number;
  errors: number;
  workerFailures: number;
  retries: number;
  workerMs: number;
  /** Where the workers' time went, by stage (ms, summed; see lib/server/status.ts). */
  stagesMs: Record<string, number>;
  /** How much of the stages' time the workers spent collecting garbage (ms, summed). */
  gcMs: number;
  /** The server's own parts of the requests (ms, summed). */
  serverMs: Record<string, number>;
}

/** The growth of each sum between two readings, divided by `count` (a mean per request). */
export function meanGrowth(
  before: Record<string, number>,
  after: Record<string, number>,
  count: number,
): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, (v - (before[k] ?? 0)) / count]));
}

/** The server's totals, asked in-process. */
export async function serverTotals(socket: string): Promise<Totals> {
  return (await serverStatus(socket)).totals as Totals;
}

/**
 * What went wrong between two readings of the totals: every request must be served by a worker without
 * trouble, so any fallback to plain ghc, error, worker failure or retry is reported.
 */
export function troubleBetween(before: Totals, after: Totals): string[] {
  return (["fallbacks", "errors", "workerFailures", "retries"] as const).flatMap((key) => {
    const n = after[key] - before[key];
    return n === 0 ? [] : [`the server counted ${n} ${key}`];
  });
}

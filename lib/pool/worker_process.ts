/**
 * The seam between the pool and the operating system: starting a worker process. lib/pool/worker.ts
 * speaks the worker protocol over whatever {@linkcode StartWorkerProcess} gives it; the real one runs
 * ghc with the plugin, and unit tests give an in-process stand-in that speaks the same messages, so the
 * pool's and compile's logic is tested without GHC or processes.
 *
 * @module
 */

import type { Killable } from "../process/kill.ts";

/** How to start a worker. */
export interface WorkerSpec {
  ghc: string;
  args: string[];
  /** Directory the worker process starts in (requests set their own). */
  cwd: string;
  /** How long the worker may take to start and greet. */
  startTimeoutMs?: number;
}

/** A started worker process: its pipes, its exit status and its pid (a Deno.ChildProcess is one). */
export interface WorkerProcess extends Killable {
  readonly stdin: WritableStream<Uint8Array>;
  readonly stdout: ReadableStream<Uint8Array>;
  readonly stderr: ReadableStream<Uint8Array>;
}

/** Starts a worker process for a spec. */
export type StartWorkerProcess = (spec: WorkerSpec) => WorkerProcess;

/** Starts ghc as a worker, frames on its stdin and stdout, its log on stderr. */
export const spawnWorkerProcess: StartWorkerProcess = (spec) =>
  new Deno.Command(spec.ghc, {
    args: spec.args,
    cwd: spec.cwd,
    // The worker's own session must not pick up an environment file; requests bring their own env.
    env: { GHC_ENVIRONMENT: "-" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();

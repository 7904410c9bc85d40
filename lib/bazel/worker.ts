/**
 * The loop of a Bazel persistent worker: read work requests, serve each one concurrently, write each
 * response in one piece as soon as it is ready. Singleplex (request id 0, one at a time) and multiplex
 * (many ids in flight) are the same loop: Bazel decides how many requests it sends before an answer.
 * What a request does is the caller's handler; this module knows only the protocol's rules:
 *
 * - every request gets exactly one response, echoing its id;
 * - a cancel request aborts the handler of the request it names, which is then answered with
 *   `wasCancelled`; a cancel for a request already answered is ignored;
 * - a request with a `sandbox_dir` is served in that directory (lib/bazel/sandbox.ts);
 * - a request with a `verbosity` of 10 or more (Bazel's `--worker_verbose`) has its details logged to
 *   stderr, which Bazel keeps as the worker's log;
 * - nothing but responses is written to the output.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import {
  type BazelProtocol,
  encodeResponse,
  RequestReader,
  type WorkRequest,
  type WorkResponse,
  workResponse,
} from "./protocol.ts";
import { checkSandbox, requestDirectory } from "./sandbox.ts";

const log = getLogger(["ghcpw", "bazel"]);

/** What a handler reports for one request. */
export interface WorkResult {
  exitCode: number;
  output: string;
}

/**
 * Serves one request in `cwd`, the directory its paths are relative to (the worker's, or the request's
 * sandbox); `signal` aborts when Bazel cancels it.
 */
export type WorkHandler = (request: WorkRequest, signal: AbortSignal, cwd: string) => Promise<WorkResult>;

/** Where a worker reads and writes, and how it serves requests. */
export interface BazelWorkerOptions {
  input: ReadableStream<Uint8Array>;
  output: WritableStream<Uint8Array>;
  /** The framing; detected from the first request when absent. */
  protocol?: BazelProtocol;
  handle: WorkHandler;
  /** The worker's working directory, which sandbox directories are relative to (default: the process's). */
  cwd?: string;
  /** Aborting stops reading and cancels every request in flight (the worker is being shut down). */
  signal?: AbortSignal;
}

/** Why a request's handler was aborted. */
export class CancelledByBazel extends Error {
  override name = "CancelledByBazel";
}

/** The verbosity Bazel's `--worker_verbose` sends; from it on, a request's details are logged. */
export const VERBOSE = 10;

/** A verbose request's log lines show at the default level (info); others only with -v (debug). */
function levelFor(request: WorkRequest): "info" | "debug" {
  return request.verbosity >= VERBOSE ? "info" : "debug";
}

interface InFlight {
  controller: AbortController;
  cancelled: boolean;
}

/**
 * Serves requests until the input ends, then waits for those in flight to be answered. Rejects if the
 * input breaks the protocol or the output cannot be written (Bazel has gone): the worker must then exit.
 */
export async function serveBazelWorker(options: BazelWorkerOptions): Promise<void> {
  const workerCwd = options.cwd ?? Deno.cwd();
  const reader = new RequestReader(options.input, options.protocol);
  const writer = options.output.getWriter();
  const inFlight = new Map<number, InFlight>();
  const running = new Set<Promise<void>>();
  let writes: Promise<void> = Promise.resolve();
  let failure: unknown = null;

  const fail = (e: unknown) => {
    failure ??= e;
    for (const entry of inFlight.values()) entry.controller.abort(e);
    reader.cancel();
  };
  const stop = () => fail(options.signal?.reason ?? new Error("worker stopped"));
  options.signal?.addEventListener("abort", stop, { once: true });

  // The writer queues chunks in order; one encoded response is one chunk, so responses never interleave.
  const respond = (protocol: BazelProtocol, response: WorkResponse) => {
    const bytes = encodeResponse(protocol, response);
    writes = writes.then(() => writer.write(bytes)).catch(fail);
  };

  const serve = async (protocol: BazelProtocol, request: WorkRequest, cwd: string, entry: InFlight) => {
    const id = request.requestId;
    const started = performance.now();
    let response: WorkResponse;
    try {
      if (request.sandboxDir !== "") await checkSandbox(cwd, request.sandboxDir);
      const result = await options.handle(request, entry.controller.signal, cwd);
      response = entry.cancelled ? workResponse({ requestId: id, wasCancelled: true }) : workResponse({
        requestId: id,
        exitCode: result.exitCode,
        output: result.output,
      });
    } catch (e) {
      if (entry.cancelled) {
        response = workResponse({ requestId: id, wasCancelled: true });
      } else {
        const message = e instanceof Error ? e.message : String(e);
        log.error("Request {id} failed: {error}", { id, error: message });
        response = workResponse({ requestId: id, exitCode: 1, output: `ghcpw: ${message}\n` });
      }
    }
    // Forgotten before the response is queued, so a later cancel for this id finds nothing to do.
    if (inFlight.get(id) === entry) inFlight.delete(id);
    if (failure !== null) return;
    log[levelFor(request)]("Request {id}: {outcome} in {ms} ms", {
      id,
      outcome: response.wasCancelled ? "cancelled" : `exit ${response.exitCode}`,
      ms: Math.round(performance.now() - started),
    });
    respond(protocol, response);
  };

  try {
    for (;;) {
      const request = await reader.read();
      if (request === null || failure !== null) break;
      const protocol = reader.protocol!;
      if (request.cancel) {
        const entry = inFlight.get(request.requestId);
        if (entry !== undefined && !entry.cancelled) {
          log.debug("Cancelling request {id}", { id: request.requestId });
          entry.cancelled = true;
          entry.controller.abort(new CancelledByBazel(`request ${request.requestId} cancelled by Bazel`));
        }
        continue;
      }
      const cwd = requestDirectory(workerCwd, request.sandboxDir);
      if (request.verbosity >= VERBOSE) {
        log.info("Request {id}: arguments {argv}, sandbox {sandbox}, working in {cwd}, {inputs} input(s)", {
          id: request.requestId,
          argv: JSON.stringify(request.arguments),
          sandbox: request.sandboxDir === "" ? "none" : JSON.stringify(request.sandboxDir),
          cwd,
          inputs: request.inputs.length,
        });
      } else {
        log.debug("Request {id} in {cwd}: {args}", {
          id: request.requestId,
          cwd,
          args: request.arguments.join(" "),
        });
      }
      const entry = { controller: new AbortController(), cancelled: false };
      if (inFlight.has(request.requestId)) {
        log.warn("Request id {id} is already in flight; a cancel will reach the newest only", {
          id: request.requestId,
        });
      }
      inFlight.set(request.requestId, entry);
      const task = serve(protocol, request, cwd, entry);
      running.add(task);
      task.finally(() => running.delete(task));
    }
  } catch (e) {
    fail(e);
  }
  await Promise.all(running);
  await writes;
  options.signal?.removeEventListener("abort", stop);
  writer.releaseLock();
  if (failure !== null && !options.signal?.aborted) throw failure;
}

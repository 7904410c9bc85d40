/**
 * The loop of a Bazel persistent worker: read work requests, serve each one concurrently, write each
 * response in one piece as soon as it is ready. Singleplex (request id 0, one at a time) and multiplex
 * (many ids in flight) are the same loop: Bazel decides how many requests it sends before an answer.
 * What a request does is the caller's handler; this module knows only the protocol's rules:
 *
 * - every request gets exactly one response, echoing its id;
 * - a cancel request aborts the handler of the request it names, which is then answered with
 *   `wasCancelled`; a cancel for a request already answered is ignored;
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

const log = getLogger(["ghcpw", "bazel"]);

/** What a handler reports for one request. */
export interface WorkResult {
  exitCode: number;
  output: string;
}

/** Serves one request; `signal` aborts when Bazel cancels it. */
export type WorkHandler = (request: WorkRequest, signal: AbortSignal) => Promise<WorkResult>;

/** Where a worker reads and writes, and how it serves requests. */
export interface BazelWorkerOptions {
  input: ReadableStream<Uint8Array>;
  output: WritableStream<Uint8Array>;
  /** The framing; detected from the first request when absent. */
  protocol?: BazelProtocol;
  handle: WorkHandler;
  /** Aborting stops reading and cancels every request in flight (the worker is being shut down). */
  signal?: AbortSignal;
}

/** Why a request's handler was aborted. */
export class CancelledByBazel extends Error {
  override name = "CancelledByBazel";
}

/** Bazel's --worker_verbose asks for more on stderr: each request's log lines then show at info level. */
function levelFor(request: WorkRequest): "info" | "debug" {
  return request.verbosity > 0 ? "info" : "debug";
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

  const serve = async (protocol: BazelProtocol, request: WorkRequest, entry: InFlight) => {
    const id = request.requestId;
    const started = performance.now();
    let response: WorkResponse;
    try {
      const result = await options.handle(request, entry.controller.signal);
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
      log[levelFor(request)]("Request {id}: {args}", {
        id: request.requestId,
        args: request.arguments.join(" "),
      });
      const entry = { controller: new AbortController(), cancelled: false };
      if (inFlight.has(request.requestId)) {
        log.warn("Request id {id} is already in flight; a cancel will reach the newest only", {
          id: request.requestId,
        });
      }
      inFlight.set(request.requestId, entry);
      const task = serve(protocol, request, entry);
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

/**
 * What a Buck2 worker does with each call, whatever runs the commands: the three RPCs of worker.proto,
 * with the protocol's rules on timeouts, cancellation and ids.
 *
 * - A command runs until it finishes, its `timeout_s` passes (it is stopped and answered with
 *   `timed_out_after_s`), its call is cancelled (an Exec cancel event, or the call dropped: Buck2 drops
 *   the call of an action it no longer wants), or the worker shuts down. A stopped command's call ends
 *   with status CANCELLED (UNAVAILABLE when the worker is shutting down).
 * - GHC's stdout and stderr both go into the response's `stderr`, in the order they arrived: Buck2
 *   drops stdout.
 * - A command the worker cannot run (argv or env not text), or that fails inside ghcpw itself, is
 *   answered with exit code 2 and the reason, so one bad action fails alone, even in a stream.
 * - Malformed messages and misuse of the protocol (an Exec stream without a command, a stream command
 *   without its request, an id already in flight) end the call with INVALID_ARGUMENT (a message that
 *   does not parse: INTERNAL, as gRPC's own servers answer it); the worker goes on serving other calls.
 *
 * @module
 */

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import { getLogger } from "@logtape/logtape";
import { CollectingSink, type OutputSink } from "../output.ts";
import { decodeCommand, type Invocation, UNRUNNABLE_EXIT, UnrunnableCommand } from "./invocation.ts";
import {
  type ExecuteCommand,
  type ExecuteCommandStream,
  type ExecuteEvent,
  type ExecuteResponse,
  ExecuteResponseSchema,
  type ExecuteResponseStream,
  ExecuteResponseStreamSchema,
  WorkerService,
  WorkerStreamingService,
} from "./protocol.ts";

const log = getLogger(["ghcpw", "buck2"]);

/**
 * Runs one invocation, writing its output to `sink`; resolves to its exit code. Aborting `signal` must
 * stop it and make it reject.
 */
export type RunInvocation = (
  invocation: Invocation,
  sink: OutputSink,
  signal: AbortSignal,
) => Promise<number>;

/** What the RPCs need: how to run a command, in which environment, and when the worker stops. */
export interface WorkerServiceOptions {
  run: RunInvocation;
  /** The environment every command's own is laid over (see decodeCommand). */
  baseEnv: Readonly<Record<string, string>>;
  /** The working directory of every command: the project root. */
  cwd: string;
  /** Aborted when the worker shuts down: every command still running is stopped. */
  shutdown: AbortSignal;
}

const encoder = new TextEncoder();

/** Registers `worker.Worker` and `worker.WorkerStreaming` on a router. */
export function registerWorkerServices(router: ConnectRouter, options: WorkerServiceOptions): void {
  const execute = (command: ExecuteCommand, cancel: AbortSignal) => executeCommand(options, command, cancel);
  router.service(WorkerService, {
    execute: (command, context) => execute(command, callSignal(context, options.shutdown)),
    exec: (events, context) => exec(events, callSignal(context, options.shutdown), execute),
  });
  router.service(WorkerStreamingService, {
    executeStream: (commands, context) =>
      executeStream(commands, callSignal(context, options.shutdown), execute),
  });
}

/** Aborts when the client drops the call or the worker shuts down (whose reason says so). */
function callSignal(context: HandlerContext, shutdown: AbortSignal): AbortSignal {
  return AbortSignal.any([context.signal, shutdown]);
}

/** The worker is shutting down: the reason every running command is stopped with. */
export function shuttingDown(): ConnectError {
  return new ConnectError("the worker is shutting down", Code.Unavailable);
}

/** Why a stopped command's call ends: the abort's own reason if it is a status, else CANCELLED. */
function stoppedStatus(signal: AbortSignal): ConnectError {
  return signal.reason instanceof ConnectError
    ? signal.reason
    : new ConnectError("the call was cancelled", Code.Canceled);
}

/** Runs one command to its response; rejects with a status if `cancel` stops it. */
async function executeCommand(
  options: WorkerServiceOptions,
  command: ExecuteCommand,
  cancel: AbortSignal,
): Promise<ExecuteResponse> {
  let invocation: Invocation;
  try {
    invocation = decodeCommand(command, options.baseEnv, options.cwd);
  } catch (e) {
    if (!(e instanceof UnrunnableCommand)) throw e;
    log.warn("Refused a command: {reason}", { reason: e.message });
    return unrunnable(`cannot run this command: ${e.message}`);
  }
  const started = performance.now();
  const deadline = new AbortController();
  const timer = invocation.timeoutMs === undefined ? undefined : setTimeout(
    () => deadline.abort(new ConnectError("timed out", Code.DeadlineExceeded)),
    invocation.timeoutMs,
  );
  const sink = new CollectingSink();
  try {
    const exitCode = await options.run(invocation, sink, AbortSignal.any([cancel, deadline.signal]));
    log.debug("ghc {argv} exited with {exitCode} after {ms} ms", {
      argv: invocation.argv.join(" "),
      exitCode,
      ms: Math.round(performance.now() - started),
    });
    return create(ExecuteResponseSchema, { exitCode, stderr: sink.text() });
  } catch (e) {
    if (cancel.aborted) {
      log.info("Stopped ghc {argv}: {reason}", {
        argv: invocation.argv.join(" "),
        reason: String(cancel.reason),
      });
      throw stoppedStatus(cancel);
    }
    if (deadline.signal.aborted) {
      log.info("ghc {argv} ran out of its {s} s", {
        argv: invocation.argv.join(" "),
        s: Number(command.timeoutS),
      });
      await sink.stderr(
        encoder.encode(
          `ghcpw buck2: the compile ran longer than the action's timeout (${command.timeoutS} s)` +
            " and was stopped\n",
        ),
      );
      return create(ExecuteResponseSchema, {
        exitCode: 1,
        stderr: sink.text(),
        timedOutAfterS: command.timeoutS,
      });
    }
    log.error("ghc {argv} failed in ghcpw: {error}", { argv: invocation.argv.join(" "), error: String(e) });
    return unrunnable(`internal error: ${e instanceof Error ? e.message : e}`);
  } finally {
    clearTimeout(timer);
  }
}

/** The response to a command that ghcpw could not run. */
function unrunnable(reason: string): ExecuteResponse {
  return create(ExecuteResponseSchema, { exitCode: UNRUNNABLE_EXIT, stderr: `ghcpw buck2: ${reason}\n` });
}

type Execute = (command: ExecuteCommand, cancel: AbortSignal) => Promise<ExecuteResponse>;

/**
 * `Exec`: the first event is the command; a cancel event after it stops the command. The client may
 * close its side once it has sent the command; the call is answered when the command finishes.
 */
async function exec(
  events: AsyncIterable<ExecuteEvent>,
  signal: AbortSignal,
  execute: Execute,
): Promise<ExecuteResponse> {
  const iterator = events[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done) {
    throw new ConnectError("Exec: the stream ended without a command", Code.InvalidArgument);
  }
  const { data } = first.value;
  if (data.case === "cancel") throw new ConnectError("Exec: cancelled before any command", Code.Canceled);
  if (data.case !== "command") {
    throw new ConnectError("Exec: the first event must be a command", Code.InvalidArgument);
  }
  const stop = new AbortController();
  // Read on while the command runs: a cancel, or anything that breaks the protocol, stops it.
  (async () => {
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      if (next.value.data.case === "cancel") {
        stop.abort(new ConnectError("Exec: the client cancelled the command", Code.Canceled));
      } else {
        stop.abort(
          new ConnectError("Exec: a command may be followed only by a cancel", Code.InvalidArgument),
        );
      }
      return;
    }
  })().catch((e) => stop.abort(ConnectError.from(e, Code.InvalidArgument)));
  return await execute(data.value, AbortSignal.any([signal, stop.signal]));
}

/**
 * `ExecuteStream`: every command runs as soon as it arrives, and each response goes out, with its
 * command's id, as soon as it is ready. The call ends once the client has closed its side and every
 * command is answered; if it ends early (dropped, or a protocol error), every running command is stopped.
 */
async function* executeStream(
  commands: AsyncIterable<ExecuteCommandStream>,
  signal: AbortSignal,
  execute: Execute,
): AsyncIterable<ExecuteResponseStream> {
  const stop = new AbortController();
  const running = AbortSignal.any([signal, stop.signal]);
  const inFlight = new Set<bigint>();
  const ready: ExecuteResponseStream[] = [];
  let failure: unknown = null;
  let reading = true;
  let wake = Promise.withResolvers<void>();
  const notify = () => wake.resolve();
  const fail = (e: unknown) => {
    failure ??= e;
    notify();
  };
  (async () => {
    for await (const { request, id } of commands) {
      if (request === undefined) {
        throw new ConnectError(`ExecuteStream: command ${id} has no request`, Code.InvalidArgument);
      }
      if (inFlight.has(id)) {
        throw new ConnectError(`ExecuteStream: id ${id} is already in flight`, Code.InvalidArgument);
      }
      inFlight.add(id);
      execute(request, running).then((response) => {
        inFlight.delete(id);
        ready.push(create(ExecuteResponseStreamSchema, { id, response }));
        notify();
      }, fail);
    }
  })().then(() => {
    reading = false;
    notify();
  }, fail);
  try {
    for (;;) {
      await wake.promise;
      wake = Promise.withResolvers<void>();
      if (failure !== null) throw failure;
      yield* ready.splice(0);
      if (!reading && inFlight.size === 0) return;
    }
  } finally {
    stop.abort(new ConnectError("ExecuteStream: the call ended", Code.Canceled));
  }
}

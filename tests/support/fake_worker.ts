/**
 * An in-process stand-in for a GHC worker process, for unit tests of the pool and of compile: it
 * reads the server's frames and answers with the worker protocol's messages (lib/wire/worker_protocol.ts),
 * as the plugin does, doing what each test's script says instead of compiling. Behind the seam of
 * lib/pool/worker_process.ts, the real Worker, Pool and compile code run unchanged.
 */

import { encodeFrame, FrameReader } from "../../lib/wire/frame.ts";
import {
  decodeToWorker,
  encodeWorkerMessage,
  WORKER_PROTOCOL_VERSION,
  type WorkerMessage,
  type WorkerRequest,
} from "../../lib/wire/worker_protocol.ts";
import type { StartWorkerProcess, WorkerProcess, WorkerSpec } from "../../lib/pool/worker_process.ts";

/** What a script can do while it serves a request. */
export interface FakeRequestContext {
  /** The fake process serving it. */
  process: FakeProcess;
  /** Sends a message to the server (output, or an outcome other than the script's return value). */
  send(message: WorkerMessage): Promise<void>;
  /** Dies as a crashing process does: its pipes close and it exits with `code`. */
  crash(code?: number): void;
}

/** What a fake worker does with a request: the message that ends it (exit, defer), or nothing after crash(). */
export type FakeScript = (
  request: WorkerRequest,
  context: FakeRequestContext,
) => Promise<WorkerMessage | void> | WorkerMessage | void;

/** pids above the kernel's largest (2^22), so that no signal meant for a fake reaches a real process. */
let nextPid = 2 ** 22 + 1;

const encoder = new TextEncoder();

/** One fake worker process. */
export class FakeProcess implements WorkerProcess {
  readonly pid = nextPid++;
  readonly stdin: WritableStream<Uint8Array>;
  readonly stdout: ReadableStream<Uint8Array>;
  readonly stderr: ReadableStream<Uint8Array>;
  readonly status: Promise<Deno.CommandStatus>;
  /** Requests this process was given, in order. */
  readonly requests: WorkerRequest[] = [];
  #out: WritableStreamDefaultWriter<Uint8Array>;
  #err: WritableStreamDefaultWriter<Uint8Array>;
  #input: FrameReader;
  #exit!: (status: Deno.CommandStatus) => void;
  #exited = false;

  constructor(readonly spec: WorkerSpec, script: FakeScript, greeting: Record<string, string>) {
    const input = new TransformStream<Uint8Array, Uint8Array>();
    const output = new TransformStream<Uint8Array, Uint8Array>();
    const errors = new TransformStream<Uint8Array, Uint8Array>();
    this.stdin = input.writable;
    this.stdout = output.readable;
    this.stderr = errors.readable;
    this.#input = new FrameReader(input.readable);
    this.#out = output.writable.getWriter();
    this.#err = errors.writable.getWriter();
    this.status = new Promise((resolve) => this.#exit = resolve);
    this.#serve(script, greeting);
  }

  /** Whether the process has exited. */
  get exited(): boolean {
    return this.#exited;
  }

  kill(signal: Deno.Signal = "SIGTERM"): void {
    if (this.#exited) throw new TypeError("Child process has already terminated");
    this.#die({ success: false, code: 128 + 9, signal });
  }

  /** Writes a line to the process's stderr (its log). */
  log(line: string): Promise<void> {
    return this.#err.write(encoder.encode(`${line}\n`)).catch(() => {});
  }

  async #serve(script: FakeScript, greeting: Record<string, string>): Promise<void> {
    const send = (message: WorkerMessage) => {
      const { type, payload } = encodeWorkerMessage(message);
      return this.#out.write(encodeFrame(type, payload)).catch(() => {});
    };
    await send({ kind: "hello", properties: greeting });
    for (;;) {
      const frame = await this.#input.read().catch(() => null);
      if (frame === null || this.#exited) break;
      const { request } = decodeToWorker(frame);
      this.requests.push(request);
      const outcome = await script(request, {
        process: this,
        send,
        crash: (code = 1) => this.#die({ success: false, code, signal: null }),
      });
      if (this.#exited) return;
      if (outcome) await send(outcome);
    }
    // End of input: the server asked it to exit.
    this.#die({ success: true, code: 0, signal: null });
  }

  #die(status: Deno.CommandStatus): void {
    if (this.#exited) return;
    this.#exited = true;
    this.#out.close().catch(() => {});
    this.#err.close().catch(() => {});
    this.#input.cancel().catch(() => {});
    this.#exit(status);
  }
}

/** Starts fake workers that all follow one script, and keeps them for the test to inspect. */
export class FakeWorkers {
  readonly started: FakeProcess[] = [];
  /** What each fake worker says in its greeting. */
  greeting: Record<string, string> = { protocol: String(WORKER_PROTOCOL_VERSION), ghc: "9.0.2" };

  constructor(public script: FakeScript = () => ({ kind: "exit", code: 0, facts: {} })) {}

  readonly start: StartWorkerProcess = (spec) => {
    const process = new FakeProcess(spec, (request, context) => this.script(request, context), this.greeting);
    this.started.push(process);
    return process;
  };
}

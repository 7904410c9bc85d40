/**
 * The protocol between the server (lib/pool/worker.ts) and a GHC worker, whose side is
 * lib/plugin/GhcpwPlugin.hs, over the worker's stdin and stdout.
 *
 * The worker greets first, with its protocol version and GHC version. Then, one at a time, the server
 * sends a Request and the worker answers with Stdout and Stderr chunks and one Exit, or one Defer (the
 * invocation must run on the real ghc), or a Failure (it cannot go on). Closing its input stops it.
 *
 * @module
 */

import type { Frame } from "./frame.ts";
import {
  decodeFields,
  decodeText,
  encodeFields,
  encodeText,
  environmentEntries,
  exitCode,
  fieldText,
  parseEnvironment,
  parseUmask,
  ProtocolError,
  umaskText,
} from "./fields.ts";
import { Environment } from "../process/environment.ts";
import { type Codec, decodeWith, encodeWith, FrameType, helloEntry, outputEntry } from "./messages.ts";

/**
 * Version of the server/worker protocol; must equal protocolVersion in lib/plugin/GhcpwPlugin.hs.
 * 2: a request says whether the client's stdout and stderr are one file.
 * 3: a request carries the client's umask.
 */
export const WORKER_PROTOCOL_VERSION = 3;

/** What a GHC worker is asked to run (mode flags already taken out, see lib/ghc/mode.ts). */
export interface WorkerRequest {
  mode: string[];
  args: string[];
  cwd: string;
  /** A fresh directory for this request's temporary files, removed by the caller afterwards. */
  tmpDir: string;
  env: Environment;
  stderrIsTerminal: boolean;
  /** GHC's stdout and stderr go into one stream, sent as stdout (see CompileRequest.mergedOutput). */
  mergedOutput: boolean;
  /** The client's file-creation mask, set for the request and the worker's own restored afterwards. */
  umask: number;
}

/** What the server sends a worker. */
export type ToWorkerMessage = { kind: "request"; request: WorkerRequest };

/**
 * What a worker sends: its greeting; for each request GHC's output, then its exit code with `key=value`
 * facts about the request (lib/plugin/Ghcpw/Facts.hs: what it holds, stage times, `ran-code`: the modules
 * that ran code while compiled), or a deferral; or a failure.
 */
export type WorkerMessage =
  | { kind: "hello"; properties: Record<string, string> }
  | { kind: "stdout"; chunk: Uint8Array }
  | { kind: "stderr"; chunk: Uint8Array }
  | { kind: "exit"; code: number; facts: Record<string, string> }
  | { kind: "defer"; reason: string }
  | { kind: "failure"; message: string };

const toWorkerCodec: Codec<ToWorkerMessage> = {
  request: {
    type: FrameType.Request,
    // In the order the plugin reads it (serveOne in lib/plugin/GhcpwPlugin.hs).
    encode: ({ request }) =>
      encodeFields([
        request.mode,
        [request.cwd],
        [request.tmpDir],
        request.args,
        request.env.entries,
        [request.stderrIsTerminal ? "1" : "0"],
        [request.mergedOutput ? "1" : "0"],
        [umaskText(request.umask)],
      ]),
    decode: (payload) => {
      const raw = decodeFields(payload);
      const fields = raw.map(fieldText);
      if (fields.length !== 8 || [1, 2, 5, 6, 7].some((i) => fields[i].length !== 1)) {
        throw new ProtocolError("malformed request");
      }
      const [mode, [cwd], [tmpDir], args, , [tty], [merged], [umask]] = fields;
      return {
        kind: "request",
        request: {
          mode,
          cwd,
          tmpDir,
          args,
          env: Environment.fromEntries(raw[4]),
          stderrIsTerminal: tty === "1",
          mergedOutput: merged === "1",
          umask: parseUmask(umask),
        },
      };
    },
  },
};

const workerCodec: Codec<WorkerMessage> = {
  hello: helloEntry,
  stdout: outputEntry("stdout"),
  stderr: outputEntry("stderr"),
  exit: {
    type: FrameType.Exit,
    encode: (m) => encodeFields([[String(m.code)], environmentEntries(m.facts)]),
    decode: (payload) => {
      const [code, ...facts] = decodeFields(payload);
      return {
        kind: "exit",
        code: exitCode(fieldText(code)[0]),
        facts: parseEnvironment(facts.flatMap(fieldText)),
      };
    },
  },
  defer: {
    type: FrameType.Defer,
    encode: (m) => encodeText(m.reason),
    decode: (payload) => ({ kind: "defer", reason: decodeText(payload) }),
  },
  failure: {
    type: FrameType.Failure,
    encode: (m) => encodeText(m.message),
    decode: (payload) => ({ kind: "failure", message: decodeText(payload) }),
  },
};

/** The frame carrying the server's message to a worker. */
export function encodeToWorker(message: ToWorkerMessage): Frame {
  return encodeWith(toWorkerCodec, message);
}

/** The server's message to a worker (what a stand-in worker in tests reads). */
export function decodeToWorker(frame: Frame): ToWorkerMessage {
  return decodeWith(toWorkerCodec, frame, "a request", ["request"]);
}

/** The frame carrying a worker's message (what a stand-in worker in tests sends). */
export function encodeWorkerMessage(message: WorkerMessage): Frame {
  return encodeWith(workerCodec, message);
}

/** A worker's message, which must be of one of the `expected` kinds (`what` names them for errors). */
export function decodeWorkerMessage<K extends WorkerMessage["kind"]>(
  frame: Frame,
  what: string,
  expected: readonly K[],
): Extract<WorkerMessage, { kind: K }> {
  return decodeWith(workerCodec, frame, what, expected);
}

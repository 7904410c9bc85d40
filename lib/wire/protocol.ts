/**
 * ghcpw's messages, carried in frames (lib/wire/frame.ts) on both of its channels: client and server on the
 * unix socket, server and GHC worker on the worker's pipes. Payloads are lists of fields, each field a
 * list of byte strings (count and lengths 4-byte big-endian), so arguments and environment values pass
 * through as bytes with no quoting rules. The Haskell side is lib/plugin/Ghcpw/Frame.hs.
 *
 * A connection starts with a Hello each way, carrying `key=value` properties, protocol version first.
 * Then the client sends one Request and receives Stdout and Stderr chunks, then one Exit (or a Failure),
 * or sends one Control command and receives one ControlReply. Both ends of every exchange encode and
 * decode here, so the client (lib/client/client.ts, lib/client/control.ts) and the server (lib/server/server.ts) cannot
 * disagree on a message.
 *
 * @module
 */

import { type ByteSource, encodeFrame, type Frame, FrameReader, type FrameReaderOptions } from "./frame.ts";
import { writeAll } from "../output.ts";
import { VERSION } from "../version.ts";

/**
 * Version of the client/server protocol; a peer with another version is refused in the handshake.
 * 2: the client's greeting carries the token and the server key; control requests (status, stop).
 */
export const PROTOCOL_VERSION = 2;

/** Version of the server/worker protocol; must equal protocolVersion in lib/plugin/GhcpwPlugin.hs. */
export const WORKER_PROTOCOL_VERSION = 1;

/** Frame types; the numbers must match FrameType in lib/plugin/Ghcpw/Frame.hs. */
export const FrameType = {
  Hello: 1,
  Request: 2,
  Stdout: 3,
  Stderr: 4,
  Exit: 5,
  Failure: 6,
  /** From a worker: this invocation must run on the real ghc (nothing has been printed yet). */
  Defer: 7,
  // Types from here on travel on the client socket only; workers never see them.
  /** From a client: a control command instead of a compile request (status, stop, stop-if-idle). */
  Control: 8,
  /** From the server: the answer to a control command, as JSON. */
  ControlReply: 9,
} as const;

/** Name of a frame type, for error messages. */
export function frameTypeName(type: number): string {
  return Object.entries(FrameType).find(([, v]) => v === type)?.[0] ?? `unknown type ${type}`;
}

/** A peer broke the protocol: bad payload, unexpected message, version mismatch. */
export class ProtocolError extends Error {
  override name = "ProtocolError";
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes a list of fields; strings are written as UTF-8. */
export function encodeFields(fields: readonly (readonly (string | Uint8Array)[])[]): Uint8Array {
  const items = fields.map((field) => field.map((x) => typeof x === "string" ? encoder.encode(x) : x));
  const size = 4 + items.reduce((n, field) => n + 4 + field.reduce((m, x) => m + 4 + x.length, 0), 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  const u32 = (n: number) => {
    view.setUint32(at, n);
    at += 4;
  };
  u32(items.length);
  for (const field of items) {
    u32(field.length);
    for (const x of field) {
      u32(x.length);
      out.set(x, at);
      at += x.length;
    }
  }
  return out;
}

/** Decodes a list of fields, rejecting any payload that is not exactly one well-formed list. */
export function decodeFields(payload: Uint8Array): Uint8Array[][] {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  let at = 0;
  const u32 = () => {
    if (at + 4 > payload.length) throw new ProtocolError("malformed payload: truncated count");
    const n = view.getUint32(at);
    at += 4;
    return n;
  };
  const fieldCount = u32();
  const fields: Uint8Array[][] = [];
  for (let i = 0; i < fieldCount; i++) {
    const count = u32();
    // Every item takes at least 4 bytes, which bounds counts without trusting them.
    if (count > (payload.length - at) / 4) throw new ProtocolError("malformed payload: count too large");
    const field: Uint8Array[] = [];
    for (let j = 0; j < count; j++) {
      const length = u32();
      if (at + length > payload.length) throw new ProtocolError("malformed payload: truncated item");
      field.push(payload.subarray(at, at + length));
      at += length;
    }
    fields.push(field);
  }
  if (at !== payload.length) throw new ProtocolError("malformed payload: trailing bytes");
  return fields;
}

/** Decodes every item of a field as UTF-8 text. */
export function fieldText(field: Uint8Array[] | undefined): string[] {
  return (field ?? []).map((x) => decoder.decode(x));
}

/** Encodes `key=value` properties, as Hello carries them. */
export function encodeProperties(properties: Record<string, string>): Uint8Array {
  return encodeFields([Object.entries(properties).map(([k, v]) => `${k}=${v}`)]);
}

/**
 * The greeting (Hello payload) every ghcpw process opens a socket connection with: the protocol and ghcpw
 * versions, which the peer checks first, and the sender's pid, for its logs; then the sender's own
 * properties (a client's token and server key, a server's key and how busy it is).
 */
export function encodeHello(properties: Record<string, string>): Uint8Array {
  return encodeProperties({
    protocol: String(PROTOCOL_VERSION),
    version: VERSION,
    pid: String(Deno.pid),
    ...properties,
  });
}

/** Decodes `key=value` properties. */
export function decodeProperties(payload: Uint8Array): Record<string, string> {
  const [field] = decodeFields(payload);
  return parseEnvironment(fieldText(field));
}

/** One GHC invocation as a client asks for it: exactly what `ghc` would have seen. */
export interface CompileRequest {
  /** Arguments after `ghc`, as given (response files not yet expanded). */
  argv: string[];
  /** The complete environment. */
  env: Record<string, string>;
  /** Absolute working directory. */
  cwd: string;
  /** Whether the client's stderr is a terminal (decides colours, as it does for ghc). */
  stderrIsTerminal: boolean;
}

/** Encodes a request's fields in their fixed order: cwd, argv, environment, terminal flag. */
export function encodeCompileRequest(request: CompileRequest): Uint8Array {
  return encodeFields([
    [request.cwd],
    request.argv,
    environmentEntries(request.env),
    [request.stderrIsTerminal ? "1" : "0"],
  ]);
}

/** What a GHC worker is asked to run (mode flags already taken out, see lib/ghc/mode.ts). */
export interface WorkerRequest {
  mode: string[];
  args: string[];
  cwd: string;
  /** A fresh directory for this request's temporary files, removed by the caller afterwards. */
  tmpDir: string;
  env: Record<string, string>;
  stderrIsTerminal: boolean;
}

/** Encodes a worker's request in the order the plugin reads it (serveOne in lib/plugin/GhcpwPlugin.hs). */
export function encodeWorkerRequest(request: WorkerRequest): Uint8Array {
  return encodeFields([
    request.mode,
    [request.cwd],
    [request.tmpDir],
    request.args,
    environmentEntries(request.env),
    [request.stderrIsTerminal ? "1" : "0"],
  ]);
}

function environmentEntries(env: Record<string, string>): string[] {
  return Object.entries(env).map(([k, v]) => `${k}=${v}`);
}

/** Decodes a request, refusing any that lacks a field. */
export function decodeCompileRequest(payload: Uint8Array): CompileRequest {
  const fields = decodeFields(payload);
  if (fields.length !== 4 || fields[0].length !== 1 || fields[3].length !== 1) {
    throw new ProtocolError("malformed request: expected cwd, argv, environment and terminal fields");
  }
  const [[cwd], argv, env, [tty]] = fields.map(fieldText);
  return { cwd, argv, env: parseEnvironment(env), stderrIsTerminal: tty === "1" };
}

/** Turns `KEY=VALUE` entries into a record (the first `=` separates). */
export function parseEnvironment(entries: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of entries) {
    const eq = entry.indexOf("=");
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

/** Decodes the exit code of an Exit frame. */
export function decodeExit(payload: Uint8Array): number {
  return exitCode(fieldText(decodeFields(payload)[0])[0]);
}

/** Decodes a worker's Exit frame: the exit code, then `key=value` facts about the request. */
export function decodeWorkerExit(payload: Uint8Array): { code: number; facts: Record<string, string> } {
  const [code, ...facts] = decodeFields(payload);
  return { code: exitCode(fieldText(code)[0]), facts: parseEnvironment(facts.flatMap(fieldText)) };
}

function exitCode(text: string | undefined): number {
  const n = Number(text);
  if (text === undefined || !Number.isInteger(n)) {
    throw new ProtocolError(`malformed exit code ${JSON.stringify(text)}`);
  }
  return n;
}

/** Decodes the message of a Failure or Defer frame. */
export function decodeMessage(payload: Uint8Array): string {
  return fieldText(decodeFields(payload)[0]).join("\n");
}

/** Encodes a one-item message (Exit code, Failure or Defer text). */
export function encodeMessage(text: string): Uint8Array {
  return encodeFields([[text]]);
}

/** The control commands a client may send instead of a compile request. */
export const CONTROL_COMMANDS = ["status", "stop", "stop-if-idle"] as const;

/** One of {@linkcode CONTROL_COMMANDS}. */
export type ControlCommand = typeof CONTROL_COMMANDS[number];

/** Encodes a Control frame's payload. */
export function encodeControl(command: ControlCommand): Uint8Array {
  return encodeMessage(command);
}

/** Decodes a Control frame's payload, refusing a command this side does not know. */
export function decodeControl(payload: Uint8Array): ControlCommand {
  const command = decodeMessage(payload);
  if (!(CONTROL_COMMANDS as readonly string[]).includes(command)) {
    throw new ProtocolError(`unknown control command ${JSON.stringify(command)}`);
  }
  return command as ControlCommand;
}

/** Encodes the answer to a control command (a ControlReply frame's payload): one JSON object. */
export function encodeControlReply(reply: Record<string, unknown>): Uint8Array {
  return encoder.encode(JSON.stringify(reply));
}

/** Decodes a ControlReply frame's payload. */
export function decodeControlReply(payload: Uint8Array): Record<string, unknown> {
  return JSON.parse(decoder.decode(payload));
}

/**
 * Why the server refused or abandoned a request, carried in a Failure frame's second field so that a
 * client can act on it (decodeMessage reads only the first): "auth" (no or wrong token), "version"
 * (another ghcpw version), "key" (another GHC or settings), "timeout" (the request timeout killed the
 * compile), "protocol" (anything else malformed), "internal".
 */
export type FailureKind = "auth" | "version" | "key" | "timeout" | "protocol" | "internal";

/** Encodes a Failure payload: the message, and the kind of failure. */
export function encodeFailure(text: string, kind: FailureKind): Uint8Array {
  return encodeFields([[text], [kind]]);
}

/** A Failure payload's message, and its kind (undefined for a peer that does not say). */
export function decodeFailure(payload: Uint8Array): { message: string; kind: FailureKind | undefined } {
  const [message, kind] = decodeFields(payload);
  return { message: fieldText(message).join("\n"), kind: fieldText(kind)[0] as FailureKind | undefined };
}

/** Bytes written whole or in part, as Deno's connections take them; `closeWrite` ends that direction. */
export interface ByteSink {
  write(chunk: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
}

/** Frames over a pair of byte streams, or over a connection, with the reads and writes a protocol needs. */
export class MessageStream {
  #reader: FrameReader;
  #write: (bytes: Uint8Array) => Promise<void>;
  #closeWrite: () => Promise<void>;
  #abortWrite: (reason?: unknown) => Promise<void>;
  #writes: Promise<void> = Promise.resolve();

  /** Over a child's pipes, or (`new MessageStream(conn, conn)`) over a socket without web streams. */
  constructor(
    readable: ReadableStream<Uint8Array> | ByteSource,
    writable: WritableStream<Uint8Array> | ByteSink,
    options?: FrameReaderOptions,
  ) {
    this.#reader = new FrameReader(readable, options);
    if ("getWriter" in writable) {
      const writer = writable.getWriter();
      this.#write = (bytes) => writer.write(bytes);
      this.#closeWrite = () => writer.close();
      this.#abortWrite = (reason) => writer.abort(reason);
    } else {
      this.#write = (bytes) => writeAll(writable, bytes);
      this.#closeWrite = () => writable.closeWrite();
      // Nothing to release: the connection's owner closes it, which ends any write still pending.
      this.#abortWrite = () => Promise.resolve();
    }
  }

  /** Changes the size limit of frames read from now on (see FrameReader). */
  set maxFrameBytes(bytes: number) {
    this.#reader.maxFrameBytes = bytes;
  }

  /** Reads the next frame, or `null` if the peer closed cleanly between frames. */
  read(): Promise<Frame | null> {
    return this.#reader.read();
  }

  /** Reads the next frame, which must be of the given type. */
  async expect(type: number, what: string): Promise<Uint8Array> {
    const frame = await this.read();
    if (frame === null) throw new ProtocolError(`connection closed while waiting for ${what}`);
    if (frame.type === FrameType.Failure) throw new ProtocolError(decodeMessage(frame.payload));
    if (frame.type !== type) {
      throw new ProtocolError(`expected ${what}, got a ${frameTypeName(frame.type)} frame`);
    }
    return frame.payload;
  }

  /** Sends a frame; writes are queued so concurrent senders never interleave frames. */
  send(type: number, payload?: Uint8Array): Promise<void> {
    const write = this.#writes.then(() => this.#write(encodeFrame(type, payload)));
    this.#writes = write.catch(() => {});
    return write;
  }

  /** Closes the writing side once queued frames are written. */
  async close(): Promise<void> {
    await this.#writes;
    await this.#closeWrite().catch(() => {});
  }

  /** Abandons both directions (the peer misbehaved or vanished). */
  async abort(reason?: unknown): Promise<void> {
    await this.#reader.cancel(reason);
    await this.#abortWrite(reason).catch(() => {});
  }
}

/**
 * Bazel's persistent worker protocol (blaze.worker in Bazel's src/main/protobuf/worker_protocol.proto):
 * the two messages, and the two ways Bazel frames them on a worker's stdin and stdout.
 *
 * - proto: each message is its binary encoding after a varint length.
 * - json: each message is a proto3-JSON object (camelCase keys). Bazel 4.2.3 writes requests back to
 *   back with no separator; later versions end each with a newline. Either way a reader must split the
 *   stream at the end of each top-level object, never at line ends.
 *
 * The message descriptors are built at run time from a hand-written FileDescriptorProto
 * (lib/protobuf/schema.ts), so encoding and decoding are @bufbuild/protobuf's own, without protoc or
 * generated code.
 *
 * @module
 */

import { create, fromBinary, fromJson, type JsonValue, type Message, toJson } from "@bufbuild/protobuf";
import type { GenMessage } from "@bufbuild/protobuf/codegenv2";
import { sizeDelimitedEncode, sizeDelimitedPeek } from "@bufbuild/protobuf/wire";
import { field, ProtoSchema, Type } from "../protobuf/schema.ts";

/** The two framings Bazel can speak to a worker. */
export type BazelProtocol = "proto" | "json";

/** The framings by name, for option parsing. */
export const BAZEL_PROTOCOLS: readonly BazelProtocol[] = ["proto", "json"];

/** One unit of work from Bazel, or (with `cancel`) the cancellation of an earlier one. */
export type WorkRequest = Message<"blaze.worker.WorkRequest"> & {
  arguments: string[];
  inputs: { path: string; digest: Uint8Array }[];
  /** 0 for a singleplex worker; unique among the requests in flight for a multiplex worker. */
  requestId: number;
  cancel: boolean;
  /** Above 0: Bazel asks for extra debugging output on stderr (--worker_verbose). */
  verbosity: number;
  /** Newer Bazels, with multiplex sandboxing: the directory to work in, relative to the execroot. */
  sandboxDir: string;
};

/** The answer to one request. */
export type WorkResponse = Message<"blaze.worker.WorkResponse"> & {
  exitCode: number;
  /** What Bazel shows the user: the tool's diagnostics. */
  output: string;
  requestId: number;
  wasCancelled: boolean;
};

// Field numbers and types as in Bazel's worker_protocol.proto; they are the wire format.
const schema = new ProtoSchema({
  name: "worker_protocol.proto",
  package: "blaze.worker",
  messageType: [
    {
      name: "Input",
      field: [field("path", 1, Type.STRING), field("digest", 2, Type.BYTES)],
    },
    {
      name: "WorkRequest",
      field: [
        field("arguments", 1, Type.STRING, { repeated: true }),
        field("inputs", 2, Type.MESSAGE, { repeated: true, typeName: ".blaze.worker.Input" }),
        field("request_id", 3, Type.INT32),
        field("cancel", 4, Type.BOOL),
        field("verbosity", 5, Type.INT32),
        field("sandbox_dir", 6, Type.STRING),
      ],
    },
    {
      name: "WorkResponse",
      field: [
        field("exit_code", 1, Type.INT32),
        field("output", 2, Type.STRING),
        field("request_id", 3, Type.INT32),
        field("was_cancelled", 4, Type.BOOL),
      ],
    },
  ],
});

/** Descriptor of {@linkcode WorkRequest}. */
export const WorkRequestSchema: GenMessage<WorkRequest> = schema.message("blaze.worker.WorkRequest");

/** Descriptor of {@linkcode WorkResponse}. */
export const WorkResponseSchema: GenMessage<WorkResponse> = schema.message("blaze.worker.WorkResponse");

/** Bytes on stdin that are not a valid request in the chosen framing. */
export class BazelProtocolError extends Error {
  override name = "BazelProtocolError";
}

/** A request larger than this is refused rather than buffered (Bazel's flag lists are far smaller). */
const MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Guesses the framing from a stream's first bytes: a JSON request starts with `{"` (Bazel's printer
 * omits whitespace), and no binary request can: as a varint length `{` is 123, and `"` would then be the
 * tag of field 4 with the length-delimited wire type, but field 4 (`cancel`) is a bool. Returns null
 * while fewer than two bytes are known.
 */
export function detectProtocol(head: Uint8Array): BazelProtocol | null {
  if (head.length === 0) return null;
  if (head[0] !== 0x7b) return "proto";
  if (head.length < 2) return null;
  return head[1] === 0x22 || head[1] === 0x7d ? "json" : "proto";
}

/** Encodes a response as one piece, ready for a single write. */
export function encodeResponse(protocol: BazelProtocol, response: WorkResponse): Uint8Array {
  if (protocol === "proto") return sizeDelimitedEncode(WorkResponseSchema, response);
  const json = toJson(WorkResponseSchema, response) as Record<string, JsonValue>;
  // proto3 JSON omits a zero exit code, but a reader may take a missing exit code for anything: be explicit.
  return encoder.encode(JSON.stringify({ exitCode: response.exitCode, ...json }) + "\n");
}

/** Builds a response message. */
export function workResponse(fields: Partial<Omit<WorkResponse, "$typeName">>): WorkResponse {
  return create(WorkResponseSchema, fields);
}

/** Builds a request message (for tests and tools that play Bazel's part). */
export function workRequest(fields: Partial<Omit<WorkRequest, "$typeName">>): WorkRequest {
  return create(WorkRequestSchema, fields);
}

/** Encodes a request as Bazel would send it. */
export function encodeRequest(protocol: BazelProtocol, request: WorkRequest): Uint8Array {
  if (protocol === "proto") return sizeDelimitedEncode(WorkRequestSchema, request);
  return encoder.encode(JSON.stringify(toJson(WorkRequestSchema, request)));
}

/** Decodes a response (for tests that play Bazel's part). */
export function decodeResponse(protocol: BazelProtocol, bytes: Uint8Array): WorkResponse {
  if (protocol === "proto") return fromBinary(WorkResponseSchema, bytes);
  return fromJson(WorkResponseSchema, JSON.parse(decoder.decode(bytes)), { ignoreUnknownFields: true });
}

/**
 * The responses on a worker's stdout, decoded in order of arrival (for tests and tools that play Bazel's
 * part). Every byte a worker writes there must belong to a response, so a stream that ends inside a
 * message is an error.
 */
export async function* readResponses(
  stdout: ReadableStream<Uint8Array>,
  protocol: BazelProtocol,
): AsyncGenerator<WorkResponse> {
  const splitter = new MessageSplitter(protocol);
  for await (const chunk of stdout) {
    splitter.push(chunk);
    for (let m = splitter.next(); m !== null; m = splitter.next()) yield decodeResponse(protocol, m);
  }
  if (splitter.pending) throw new BazelProtocolError("the stream ended inside a response");
}

/**
 * Splits a byte stream into messages of one framing. Feed it bytes as they arrive with
 * {@linkcode push}; {@linkcode next} returns each complete message in order, or null until more bytes
 * are needed. It keeps its scanning state between calls, so a message split across reads costs no
 * rescanning.
 */
export class MessageSplitter {
  #buffer = new Uint8Array(0);
  #start = 0;
  #end = 0;
  // JSON scanning state, from #start up to #scanned.
  #scanned = 0;
  #depth = 0;
  #inString = false;
  #escaped = false;

  constructor(readonly protocol: BazelProtocol) {}

  /** Appends bytes read from the stream. */
  push(chunk: Uint8Array): void {
    if (this.#end + chunk.length > this.#buffer.length) {
      const live = this.#end - this.#start;
      const grown = new Uint8Array(Math.max(2 * (live + chunk.length), 4096));
      grown.set(this.#buffer.subarray(this.#start, this.#end));
      this.#scanned -= this.#start;
      this.#start = 0;
      this.#end = live;
      this.#buffer = grown;
    }
    this.#buffer.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  /** Whether bytes of an incomplete message remain (at end of stream: a truncated message). */
  get pending(): boolean {
    if (this.protocol === "json") this.#skipWhitespace();
    return this.#end > this.#start;
  }

  /** The next complete message's bytes, or null if more input is needed. */
  next(): Uint8Array | null {
    return this.protocol === "proto" ? this.#nextProto() : this.#nextJson();
  }

  #take(end: number): Uint8Array {
    const bytes = this.#buffer.slice(this.#start, end);
    this.#start = end;
    this.#scanned = end;
    return bytes;
  }

  #nextProto(): Uint8Array | null {
    const available = this.#buffer.subarray(this.#start, this.#end);
    let head: ReturnType<typeof sizeDelimitedPeek>;
    try {
      head = sizeDelimitedPeek(available);
    } catch (e) {
      throw new BazelProtocolError(`bad message length: ${e instanceof Error ? e.message : e}`);
    }
    if (head.eof) return null;
    if (head.size > MAX_MESSAGE_BYTES) throw new BazelProtocolError(`message of ${head.size} bytes`);
    if (available.length < head.offset + head.size) return null;
    this.#start += head.offset;
    return this.#take(this.#start + head.size);
  }

  #skipWhitespace(): void {
    if (this.#scanned > this.#start) return;
    while (this.#start < this.#end && isJsonWhitespace(this.#buffer[this.#start])) this.#start++;
    this.#scanned = this.#start;
  }

  #nextJson(): Uint8Array | null {
    this.#skipWhitespace();
    if (this.#start === this.#end) return null;
    if (this.#scanned === this.#start && this.#buffer[this.#start] !== 0x7b) {
      throw new BazelProtocolError(
        `expected a JSON object, got ${JSON.stringify(String.fromCharCode(this.#buffer[this.#start]))}`,
      );
    }
    // Byte-wise scan: UTF-8 continuation bytes never equal an ASCII quote, brace or backslash.
    for (let i = this.#scanned; i < this.#end; i++) {
      const b = this.#buffer[i];
      if (this.#inString) {
        if (this.#escaped) this.#escaped = false;
        else if (b === 0x5c) this.#escaped = true;
        else if (b === 0x22) this.#inString = false;
      } else if (b === 0x22) {
        this.#inString = true;
      } else if (b === 0x7b || b === 0x5b) {
        this.#depth++;
      } else if (b === 0x7d || b === 0x5d) {
        if (--this.#depth === 0) return this.#take(i + 1);
      }
    }
    this.#scanned = this.#end;
    if (this.#end - this.#start > MAX_MESSAGE_BYTES) {
      throw new BazelProtocolError(`JSON message over ${MAX_MESSAGE_BYTES} bytes`);
    }
    return null;
  }
}

function isJsonWhitespace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

/** Decodes one request split off by a {@linkcode MessageSplitter}. */
export function decodeRequest(protocol: BazelProtocol, bytes: Uint8Array): WorkRequest {
  try {
    if (protocol === "proto") return fromBinary(WorkRequestSchema, bytes);
    // Unknown keys are skipped: newer Bazels add fields, which a worker may ignore.
    return fromJson(WorkRequestSchema, JSON.parse(decoder.decode(bytes)), { ignoreUnknownFields: true });
  } catch (e) {
    throw new BazelProtocolError(`malformed ${protocol} request: ${e instanceof Error ? e.message : e}`);
  }
}

/**
 * Reads requests from a stream (a worker's stdin), detecting the framing from the first bytes unless it
 * was given. Resolves each {@linkcode read} to the next request, or null at a clean end of the stream.
 */
export class RequestReader {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #splitter: MessageSplitter | null = null;
  #head = new Uint8Array(0);
  #done = false;

  constructor(stream: ReadableStream<Uint8Array>, protocol?: BazelProtocol) {
    this.#reader = stream.getReader();
    if (protocol !== undefined) this.#splitter = new MessageSplitter(protocol);
  }

  /** The framing in use, once known (given, or detected from the first request). */
  get protocol(): BazelProtocol | null {
    return this.#splitter?.protocol ?? null;
  }

  /** The next request, or null when the stream ends between requests. */
  async read(): Promise<WorkRequest | null> {
    for (;;) {
      if (this.#splitter !== null) {
        const bytes = this.#splitter.next();
        if (bytes !== null) return decodeRequest(this.#splitter.protocol, bytes);
      }
      if (this.#done) {
        if (this.#splitter?.pending || this.#head.length > 0) {
          throw new BazelProtocolError("input ended in the middle of a request");
        }
        return null;
      }
      const { value, done } = await this.#reader.read();
      if (done) {
        this.#done = true;
        // One byte that can never be detected: let it fail as proto, the default framing.
        if (this.#splitter === null && this.#head.length > 0) this.#begin("proto");
        continue;
      }
      if (this.#splitter !== null) {
        this.#splitter.push(value);
        continue;
      }
      const head = new Uint8Array(this.#head.length + value.length);
      head.set(this.#head);
      head.set(value, this.#head.length);
      this.#head = head;
      const detected = detectProtocol(head);
      if (detected !== null) this.#begin(detected);
    }
  }

  #begin(protocol: BazelProtocol): void {
    this.#splitter = new MessageSplitter(protocol);
    this.#splitter.push(this.#head);
    this.#head = new Uint8Array(0);
  }

  /** Stops reading (the worker is shutting down). */
  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}

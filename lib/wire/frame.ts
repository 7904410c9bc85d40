/**
 * Length-prefixed frames, the one wire format of ghcpw: between client and server on the unix socket, and
 * between the server and each GHC worker on its pipes (the Haskell side is lib/plugin/Ghcpw/Frame.hs).
 *
 * A frame is a 4-byte big-endian length N, then N bytes: a 1-byte type and N - 1 bytes of payload.
 * Readers refuse frames over a size limit before buffering them, so a corrupt or hostile length
 * cannot make a peer allocate without bound.
 *
 * @module
 */

/** Bytes before the payload: the length and the type. */
export const FRAME_HEADER_BYTES = 5;

/** Largest frame accepted by default (length field value); output is sent in much smaller chunks. */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;

/** One decoded frame. */
export interface Frame {
  type: number;
  payload: Uint8Array;
}

/** A stream that does not hold well-formed frames: truncated, oversized or empty. */
export class FrameError extends Error {
  override name = "FrameError";
}

/** Encodes one frame into a single buffer, so it can be written in one piece. */
export function encodeFrame(type: number, payload: Uint8Array = new Uint8Array()): Uint8Array {
  if (!Number.isInteger(type) || type < 0 || type > 255) {
    throw new RangeError(`frame type ${type} is not a byte`);
  }
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, payload.length + 1);
  out[4] = type;
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

/** Bytes read into a buffer the caller provides, as Deno's connections deliver them; null at the end. */
export interface ByteSource {
  read(buffer: Uint8Array): Promise<number | null>;
}

/**
 * The least a read from a {@linkcode ByteSource} asks for. Small, because a server holds one buffer per
 * connection and a client's greeting and request are a few hundred bytes (`conn.readable` would allocate
 * 64 KiB for every read); a frame that needs more gets a buffer of its size.
 */
const MIN_READ_BYTES = 4096;

/** Options for {@linkcode FrameReader}. */
export interface FrameReaderOptions {
  /** Largest accepted value of the length field; larger frames are an error. */
  maxFrameBytes?: number;
}

/**
 * Reads frames from a byte stream that may deliver them split or merged at any boundary.
 * `read()` resolves to `null` at a clean end of stream (between frames) and rejects with
 * {@linkcode FrameError} when the stream ends inside a frame or a length is out of range.
 */
export class FrameReader {
  #reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  #source: ByteSource | null = null;
  #maxFrameBytes: number;
  #buffer = new Uint8Array(0);
  #start = 0;
  #end = 0;

  /**
   * Reads from a stream (a child's pipe), or straight from a connection: the client uses no web streams
   * at all, whose first use costs every `ghcpw ghc` ~10 ms.
   */
  constructor(source: ReadableStream<Uint8Array> | ByteSource, options: FrameReaderOptions = {}) {
    // Not `instanceof ReadableStream`: naming the class loads Deno's streams, which a client never uses.
    if ("getReader" in source) this.#reader = source.getReader();
    else this.#source = source;
    this.#maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }

  /**
   * Changes the size limit for the frames read from now on: a server reads a stranger's greeting with a
   * small limit and raises it once the client has proved who it is.
   */
  set maxFrameBytes(bytes: number) {
    this.#maxFrameBytes = bytes;
  }

  /** Reads the next frame, or `null` if the stream ended cleanly before it. */
  async read(): Promise<Frame | null> {
    if (!await this.#fill(4)) {
      if (this.#end === this.#start) return null;
      throw new FrameError(`stream ended inside a frame header (${this.#end - this.#start} of 4 bytes)`);
    }
    const length = new DataView(this.#buffer.buffer, this.#buffer.byteOffset + this.#start, 4).getUint32(0);
    if (length < 1) throw new FrameError("frame length 0: a frame holds at least its type byte");
    if (length > this.#maxFrameBytes) {
      throw new FrameError(`frame of ${length} bytes exceeds the limit of ${this.#maxFrameBytes} bytes`);
    }
    if (!await this.#fill(4 + length)) {
      throw new FrameError(`stream ended inside a frame (${this.#end - this.#start - 4} of ${length} bytes)`);
    }
    const type = this.#buffer[this.#start + 4];
    const payload = this.#buffer.slice(this.#start + 5, this.#start + 4 + length);
    this.#start += 4 + length;
    return { type, payload };
  }

  /** Stops reading and releases the underlying stream (a connection is left to its owner to close). */
  async cancel(reason?: unknown): Promise<void> {
    await this.#reader?.cancel(reason).catch(() => {});
  }

  /** Buffers at least `n` unread bytes; false if the stream ends first. */
  async #fill(n: number): Promise<boolean> {
    while (this.#end - this.#start < n) {
      if (this.#reader !== null) {
        const { value, done } = await this.#reader.read();
        if (done) return false;
        this.#reserve(value.length);
        this.#buffer.set(value, this.#end);
        this.#end += value.length;
      } else {
        this.#reserve(Math.max(n - (this.#end - this.#start), MIN_READ_BYTES));
        const read = await this.#source!.read(this.#buffer.subarray(this.#end));
        if (read === null) return false;
        this.#end += read;
      }
    }
    return true;
  }

  /** Makes room for `bytes` more after the unread ones. */
  #reserve(bytes: number): void {
    if (this.#end + bytes <= this.#buffer.length) return;
    const unread = this.#end - this.#start;
    const needed = unread + bytes;
    const target = needed <= this.#buffer.length
      ? this.#buffer
      : new Uint8Array(Math.max(needed, this.#buffer.length * 2, MIN_READ_BYTES));
    // set() copies correctly even when source and target share the buffer.
    target.set(this.#buffer.subarray(this.#start, this.#end), 0);
    this.#buffer = target;
    this.#start = 0;
    this.#end = unread;
  }
}

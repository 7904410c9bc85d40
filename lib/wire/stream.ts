/**
 * Frames (lib/wire/frame.ts) over a pair of byte streams — a worker's pipes — or over a socket
 * connection: the transport under both protocols, which knows nothing of their messages.
 *
 * @module
 */

import { type ByteSource, encodeFrame, type Frame, FrameReader, type FrameReaderOptions } from "./frame.ts";
import { writeAll } from "../output.ts";

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

  /** Sends a frame; writes are queued so concurrent senders never interleave frames. */
  send(frame: Frame): Promise<void> {
    const write = this.#writes.then(() => this.#write(encodeFrame(frame.type, frame.payload)));
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

/**
 * Byte-stream helpers for the protocol suites: joining buffers, and streams and connection-like sources
 * that split their bytes into chunks of chosen sizes (how pipes and sockets deliver them).
 *
 * @module
 */

import type { ByteSource } from "../../lib/wire/frame.ts";

/** The parts one after the other in one buffer. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A stream that delivers `bytes` in chunks of the given sizes (cycled). */
export function chunked(bytes: Uint8Array, sizes: number[]): ReadableStream<Uint8Array> {
  let at = 0;
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      const n = sizes[i++ % sizes.length];
      controller.enqueue(bytes.slice(at, at + n));
      at += n;
    },
  });
}

/** A connection-like source that delivers `bytes` in reads of at most the given sizes (cycled). */
export function chunkedSource(bytes: Uint8Array, sizes: number[]): ByteSource {
  let at = 0;
  let i = 0;
  return {
    read(buffer) {
      if (at >= bytes.length) return Promise.resolve(null);
      const n = Math.min(sizes[i++ % sizes.length], buffer.length, bytes.length - at);
      buffer.set(bytes.subarray(at, at + n));
      at += n;
      return Promise.resolve(n);
    },
  };
}

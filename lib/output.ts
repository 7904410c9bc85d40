/**
 * Where the output of one GHC invocation goes: the two streams, kept apart, written in order.
 *
 * @module
 */

/** Receives GHC's stdout and stderr for one invocation; a rejected write means the receiver is gone. */
export interface OutputSink {
  stdout(chunk: Uint8Array): Promise<void>;
  stderr(chunk: Uint8Array): Promise<void>;
}

/** A sink that records whether anything was written through it (retries are only safe before that). */
export class TrackingSink implements OutputSink {
  written = false;
  constructor(private inner: OutputSink) {}
  stdout(chunk: Uint8Array): Promise<void> {
    this.written ||= chunk.length > 0;
    return this.inner.stdout(chunk);
  }
  stderr(chunk: Uint8Array): Promise<void> {
    this.written ||= chunk.length > 0;
    return this.inner.stderr(chunk);
  }
}

/** Writes all of a chunk to a Deno writer (which may accept it in parts). */
export async function writeAll(writer: { write(p: Uint8Array): Promise<number> }, chunk: Uint8Array) {
  for (let at = 0; at < chunk.length;) at += await writer.write(chunk.subarray(at));
}

/**
 * Whether this process's stdout and stderr are the same file (`2>&1`, one terminal, one build log), by
 * device and inode: then what GHC writes to either must reach it in GHC's order, as one stream.
 */
export function stdoutIsStderr(): boolean {
  try {
    // Linux names each open descriptor in /proc; stat follows it to the file (pipe, terminal) itself.
    const [out, err] = [1, 2].map((fd) => Deno.statSync(`/proc/self/fd/${fd}`));
    return out.dev === err.dev && out.ino === err.ino;
  } catch {
    return false;
  }
}

/** The process's own stdout and stderr, for a client that prints what GHC printed. */
export const processSink: OutputSink = {
  stdout: (chunk) => writeAll(Deno.stdout, chunk),
  stderr: (chunk) => writeAll(Deno.stderr, chunk),
};

/** A sink that keeps both streams, interleaved as they arrived, for a caller that reports them in one piece. */
export class CollectingSink implements OutputSink {
  #chunks: Uint8Array[] = [];
  stdout(chunk: Uint8Array): Promise<void> {
    this.#chunks.push(chunk.slice());
    return Promise.resolve();
  }
  stderr(chunk: Uint8Array): Promise<void> {
    this.#chunks.push(chunk.slice());
    return Promise.resolve();
  }
  /** Everything written so far, decoded as UTF-8 (invalid bytes become U+FFFD). */
  text(): string {
    const decoder = new TextDecoder();
    return this.#chunks.map((c) => decoder.decode(c, { stream: true })).join("") + decoder.decode();
  }
}

/**
 * A LogTape sink that appends to a file and keeps it bounded: when the file would grow past its limit
 * it is renamed to `<file>.1` (replacing the previous one) and a new file is started, so a server that
 * runs for weeks uses at most twice the limit on disk.
 *
 * @module
 */

import { getTextFormatter, type LogRecord, type Sink } from "@logtape/logtape";

/** Default size at which the log file is rotated. */
export const DEFAULT_LOG_FILE_BYTES = 1024 * 1024;

/** Options for {@linkcode getBoundedFileSink}. */
export interface BoundedFileSinkOptions {
  /** Size in bytes at which the file is rotated. */
  maxBytes?: number;
}

/**
 * A sink writing one line per record to `path` (its directory is created 0700, the file 0600: logs name
 * files and commands). Writes are synchronous and small, so records are never lost at exit.
 */
export function getBoundedFileSink(path: string, options: BoundedFileSinkOptions = {}): Sink & Disposable {
  const maxBytes = options.maxBytes ?? DEFAULT_LOG_FILE_BYTES;
  const format = getTextFormatter({ value: "bare" });
  const encoder = new TextEncoder();
  Deno.mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true, mode: 0o700 });
  let file: Deno.FsFile | null = null;
  let size = 0;
  const open = () => {
    file = Deno.openSync(path, { create: true, append: true, mode: 0o600 });
    size = file.statSync().size;
  };
  const sink = (record: LogRecord) => {
    const line = encoder.encode(format(record));
    try {
      if (file === null) open();
      if (size > 0 && size + line.length > maxBytes) {
        file!.close();
        Deno.renameSync(path, `${path}.1`);
        open();
      }
      for (let at = 0; at < line.length;) at += file!.writeSync(line.subarray(at));
      size += line.length;
    } catch {
      // A log that cannot be written (disk full, file removed) must not take the server down.
      try {
        file?.close();
      } catch {
        // already closed
      }
      file = null;
    }
  };
  return Object.assign(sink, {
    [Symbol.dispose]() {
      try {
        file?.close();
      } catch {
        // already closed
      }
      file = null;
    },
  });
}

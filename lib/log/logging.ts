/**
 * Logging set-up: every module logs through LogTape under the "ghcpw" category; this decides where the
 * records go and from which level.
 *
 * LogTape itself is loaded only when logging is set up: `ghcpw ghc` runs once per compiled module and
 * logs nothing unless `GHCPW_LOG` asks, and loading LogTape would cost it ~25 ms every time. Modules on
 * that path log through {@linkcode deferredLogger}; the server's own modules use LogTape directly.
 *
 * @module
 */

import type { LogLevel } from "@logtape/logtape";

/** Log levels accepted by -v/-q and GHCPW_LOG. */
export const LOG_LEVELS: readonly LogLevel[] = ["trace", "debug", "info", "warning", "error", "fatal"];

/** Parses a log level name, or throws with the accepted names. */
export function parseLogLevel(name: string): LogLevel {
  if ((LOG_LEVELS as readonly string[]).includes(name)) return name as LogLevel;
  throw new Error(`unknown log level ${JSON.stringify(name)}; use one of ${LOG_LEVELS.join(", ")}`);
}

let logtape: typeof import("@logtape/logtape") | null = null;

/**
 * Sends ghcpw's records from `level` up to stderr (the console sink writes errors there), or, given
 * `file`, to that size-bounded file instead (a server in the background has no stderr to write to).
 */
export async function setUpLogging(level: LogLevel, file?: string): Promise<void> {
  const { configure, getConsoleSink, getTextFormatter } = logtape = await import("@logtape/logtape");
  const sink = file === undefined ? undefined : (await import("./log_file.ts")).getBoundedFileSink(file);
  await configure({
    reset: true,
    sinks: {
      out: sink ?? getConsoleSink({
        formatter: getTextFormatter({ value: "bare" }),
        // Every level to stderr: stdout belongs to GHC's output (and to Bazel's protocol later).
        levelMap: {
          trace: "error",
          debug: "error",
          info: "error",
          warning: "error",
          error: "error",
          fatal: "error",
        },
      }),
    },
    loggers: [
      { category: ["ghcpw"], lowestLevel: level, sinks: ["out"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["out"] },
    ],
  });
}

/** The logging calls of a {@linkcode deferredLogger}: a message template and its properties. */
export interface DeferredLogger {
  debug(message: string, properties?: Record<string, unknown>): void;
  info(message: string, properties?: Record<string, unknown>): void;
  warn(message: string, properties?: Record<string, unknown>): void;
  error(message: string, properties?: Record<string, unknown>): void;
}

/**
 * A logger for modules that run in `ghcpw ghc`: it passes records to LogTape's logger for `category`
 * once {@linkcode setUpLogging} has run, and drops them (without loading LogTape) before: a client
 * without `GHCPW_LOG` prints nothing of its own.
 */
export function deferredLogger(category: readonly string[]): DeferredLogger {
  const at = (level: keyof DeferredLogger) => (message: string, properties?: Record<string, unknown>) => {
    logtape?.getLogger(category)[level](message, properties);
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

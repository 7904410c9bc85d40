/**
 * Logging set-up: every module logs through LogTape under the "ghcpw" category; this decides where the
 * records go and from which level.
 *
 * @module
 */

import { configure, getConsoleSink, getTextFormatter, type LogLevel } from "@logtape/logtape";
import { getBoundedFileSink } from "./log_file.ts";

/** Log levels accepted by -v/-q and GHCPW_LOG. */
export const LOG_LEVELS: readonly LogLevel[] = ["trace", "debug", "info", "warning", "error", "fatal"];

/** Parses a log level name, or throws with the accepted names. */
export function parseLogLevel(name: string): LogLevel {
  if ((LOG_LEVELS as readonly string[]).includes(name)) return name as LogLevel;
  throw new Error(`unknown log level ${JSON.stringify(name)}; use one of ${LOG_LEVELS.join(", ")}`);
}

/**
 * Sends ghcpw's records from `level` up to stderr (the console sink writes errors there), or, given
 * `file`, to that size-bounded file instead (a server in the background has no stderr to write to).
 */
export async function setUpLogging(level: LogLevel, file?: string): Promise<void> {
  const sink = file === undefined ? undefined : getBoundedFileSink(file);
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

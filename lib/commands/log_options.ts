/**
 * The logging options of the long-running commands (`ghcpw serve`, `ghcpw bazel`): how they are written
 * and the level they choose. The client has none: it logs only when GHCPW_LOG asks.
 *
 * @module
 */

import type { LogLevel } from "@logtape/logtape";
import { parseLogLevel } from "../log/logging.ts";

/** The logging options, for a command's option table. */
export const LOG_OPTIONS = {
  verbose: { type: "boolean", short: "v" },
  quiet: { type: "boolean", short: "q" },
  "log-level": { type: "string" },
} as const;

/** The level the options ask for: --log-level wins, then -v (debug), then -q (warning); else info. */
export function logLevelOf(values: { verbose?: boolean; quiet?: boolean; "log-level"?: string }): LogLevel {
  return parseLogLevel(values["log-level"] ?? (values.verbose ? "debug" : values.quiet ? "warning" : "info"));
}

/**
 * Command-line parsing shared by the subcommands: node:util's parseArgs with ghcpw's error wording.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import { parseDuration } from "../duration.ts";
import { UsageError } from "./usage_error.ts";

/** Parses options strictly; unknown or malformed options become a {@linkcode UsageError}. */
export function parseOptions<T extends NonNullable<ParseArgsConfig["options"]>>(
  command: string,
  args: string[],
  options: T,
  allowPositionals = false,
) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    throw new UsageError(`ghcpw ${command}: ${message}\nRun 'ghcpw ${command} --help' for the options.`);
  }
}

/** Parses a positive integer option value, or throws a {@linkcode UsageError} naming the option. */
export function positiveInteger(command: string, option: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new UsageError(
      `ghcpw ${command}: ${option} needs a positive whole number, got ${JSON.stringify(value)}`,
    );
  }
  return n;
}

/**
 * Parses a size option value: a number of bytes, or a number with a unit K, M, G or T (powers of 1024;
 * `512M`, `1.5G`, `2GiB`). Throws a {@linkcode UsageError} naming the option, with an example.
 */
export function byteSize(command: string, option: string, value: string): number {
  const match = /^(\d+(?:\.\d+)?)(?:([KMGT])(?:i?B)?|B)?$/i.exec(value.trim());
  const power = match?.[2] ? "KMGT".indexOf(match[2].toUpperCase()) + 1 : 0;
  const bytes = match === null ? NaN : Math.round(Number(match[1]) * 1024 ** power);
  if (!Number.isSafeInteger(bytes) || bytes < 1) {
    throw new UsageError(
      `ghcpw ${command}: ${option} needs a size in bytes or with a unit, such as 512M or 2G; ` +
        `got ${JSON.stringify(value)}`,
    );
  }
  return bytes;
}

/**
 * Parses a duration option value (seconds, or with a unit: 90s, 15m, 2h), or throws a
 * {@linkcode UsageError} naming the option. Unset or empty means `fallbackMs`, so that an option read
 * from an environment variable set to nothing means the default.
 */
export function durationOption(
  command: string,
  option: string,
  value: string | undefined,
  fallbackMs: number,
): number {
  if (value === undefined || value === "") return fallbackMs;
  try {
    return parseDuration(value, option);
  } catch (e) {
    throw new UsageError(`ghcpw ${command}: ${e instanceof Error ? e.message : e}`);
  }
}

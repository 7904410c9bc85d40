/**
 * The error of a command line ghcpw cannot accept. A module of its own so that main.ts and the client can
 * name it without loading node:util's parseArgs (lib/commands/options.ts), which costs every `ghcpw ghc`
 * several milliseconds.
 *
 * @module
 */

/** A command line ghcpw cannot accept; the message says what to do instead. */
export class UsageError extends Error {
  override name = "UsageError";
}

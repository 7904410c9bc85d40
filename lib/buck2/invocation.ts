/**
 * From a Buck2 ExecuteCommand to a GHC invocation: Buck2 sends argv and environment as bytes (the OS
 * strings it would have passed to a process), without the executable; the worker runs them in its own
 * working directory, the project root, which is where Buck2 runs local actions.
 *
 * @module
 */

import type { ExecuteCommand } from "./protocol.ts";

/** What one command asks for: ghc's arguments, its complete environment, and a deadline if any. */
export interface Invocation {
  argv: string[];
  env: Record<string, string>;
  /** The action's timeout in milliseconds; undefined for none. */
  timeoutMs?: number;
}

/** A command that cannot be run (its bytes are not text); the message says which part and why. */
export class UnrunnableCommand extends Error {
  override name = "UnrunnableCommand";
}

/** Exit code of a command the worker could not run, as for ghcpw's own failures (GHC's errors are 1). */
export const UNRUNNABLE_EXIT = 2;

/** The environment variable through which Buck2 names a worker's socket. */
export const WORKER_SOCKET_VARIABLE = "WORKER_SOCKET";

// A longer delay does not fit a timer (it would fire at once); an action that long has no real deadline.
const MAX_TIMER_MS = 2 ** 31 - 1;

const decoder = new TextDecoder("utf-8", { fatal: true });

/** The bytes as text, as a process's arguments and environment must be (no NUL: C strings). */
function text(bytes: Uint8Array, what: string): string {
  let s: string;
  try {
    s = decoder.decode(bytes);
  } catch {
    throw new UnrunnableCommand(`${what} is not valid UTF-8`);
  }
  if (s.includes("\0")) throw new UnrunnableCommand(`${what} contains a NUL byte`);
  return s;
}

/**
 * Decodes a command. Its environment is laid over `baseEnv`, the worker's own environment (which Buck2
 * gives it from its daemon, as it gives a local action), with PWD set to `cwd` as Buck2 sets it for a
 * local action, so ghc sees what it would have seen run directly.
 */
export function decodeCommand(
  command: ExecuteCommand,
  baseEnv: Readonly<Record<string, string>>,
  cwd: string,
): Invocation {
  const argv = command.argv.map((a, i) => text(a, `argument ${i + 1}`));
  const env: Record<string, string> = { ...baseEnv };
  for (const [i, entry] of command.env.entries()) {
    const key = text(entry.key, `the name of environment entry ${i + 1}`);
    if (key === "" || key.includes("=")) {
      throw new UnrunnableCommand(`environment entry ${i + 1} has an invalid name ${JSON.stringify(key)}`);
    }
    env[key] = text(entry.value, `the value of environment variable ${key}`);
  }
  env.PWD = cwd;
  const ms = command.timeoutS === undefined ? undefined : Number(command.timeoutS) * 1000;
  return { argv, env, ...ms === undefined || ms > MAX_TIMER_MS ? {} : { timeoutMs: ms } };
}

/** The worker's own environment without what only the worker needs, as the base of every command's. */
export function workerBaseEnv(env: Readonly<Record<string, string>>): Record<string, string> {
  const { [WORKER_SOCKET_VARIABLE]: _socket, ...rest } = env;
  return rest;
}

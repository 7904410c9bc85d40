/**
 * Stopping a child process for good: signal it, then wait for its exit status, so that the caller knows
 * it is gone (and has left no zombie) before going on, whether or not it had exited already.
 *
 * @module
 */

/** What {@linkcode killAndWait} needs of a child: Deno.ChildProcess, or a stand-in with the same members. */
export interface Killable {
  readonly pid: number;
  readonly status: Promise<Deno.CommandStatus>;
  kill(signal?: Deno.Signal): void;
}

/** How {@linkcode killAndWait} signals. */
export interface KillOptions {
  /** Default SIGKILL. */
  signal?: Deno.Signal;
  /**
   * Signal the child's process group, so that what it runs (a C compiler, an assembler) goes with it;
   * a child that does not lead a group yet gets the signal alone.
   */
  group?: boolean;
}

/** Sends the signal unless the child has exited, then resolves to its exit status. */
export async function killAndWait(child: Killable, options: KillOptions = {}): Promise<Deno.CommandStatus> {
  const signal = options.signal ?? "SIGKILL";
  if (!options.group || !signalGroup(child.pid, signal)) {
    try {
      child.kill(signal);
    } catch {
      // exited already
    }
  }
  return await child.status;
}

/** Signals the process group led by `pid`; false if there is none (not yet a leader, or gone). */
function signalGroup(pid: number, signal: Deno.Signal): boolean {
  try {
    Deno.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

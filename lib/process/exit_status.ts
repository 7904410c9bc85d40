/**
 * Exit statuses of child processes as exit codes: what a shell reports, so that `ghcpw ghc` exits with
 * the code a build tool would have seen from plain ghc (134 for a ghc killed by SIGABRT, not 128).
 *
 * @module
 */

/**
 * Linux's signal numbers for the names Deno reports. Deno's type also names signals of other systems
 * (SIGBREAK, SIGEMT, SIGINFO), which a Linux child cannot die of.
 */
export const LINUX_SIGNAL_NUMBERS: Readonly<Partial<Record<Deno.Signal, number>>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGSTKFLT: 16,
  SIGCHLD: 17,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGTTIN: 21,
  SIGTTOU: 22,
  SIGURG: 23,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGVTALRM: 26,
  SIGPROF: 27,
  SIGWINCH: 28,
  SIGIO: 29,
  SIGPOLL: 29,
  SIGPWR: 30,
  SIGSYS: 31,
  SIGUNUSED: 31,
};

/** The exit code a shell reports for a status: the process's own code, or 128 + the signal's number. */
export function exitCodeOf(status: Deno.CommandStatus): number {
  if (status.signal === null) return status.code;
  const number = LINUX_SIGNAL_NUMBERS[status.signal];
  if (number === undefined) throw new Error(`no Linux number for ${status.signal}`);
  return 128 + number;
}

/**
 * A child's status, also for a child killed by a signal Deno has no name for (the real-time signals,
 * 34 and up): Deno rejects with "Invalid signal: N" there, which would lose the status (and, unhandled,
 * end the process awaiting it). Such a status has no name, only the shell's code (128 + N).
 */
export async function settledStatus(status: Promise<Deno.CommandStatus>): Promise<Deno.CommandStatus> {
  try {
    return await status;
  } catch (e) {
    const number = e instanceof TypeError ? /^Invalid signal: (\d+)$/.exec(e.message)?.[1] : undefined;
    if (number === undefined) throw e;
    return { success: false, code: 128 + Number(number), signal: null };
  }
}

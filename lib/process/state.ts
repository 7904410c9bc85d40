/**
 * What /proc says of a process: whether it still runs, and when it started (so a recycled pid is not
 * taken for the process that had it before). Linux only; elsewhere every process reads as gone.
 *
 * @module
 */

/** A process's state letter and start time (clock ticks since boot). */
export interface ProcessStat {
  state: string;
  start: string;
}

/** The process's {@linkcode ProcessStat}, or null if it does not exist. */
export function processStat(pid: number | "self"): ProcessStat | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The command name (field 2) may hold spaces and parentheses: fields are counted after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields 3 (state) and 22 (start time) of proc(5).
    return { state: fields[0], start: fields[19] };
  } catch {
    return null;
  }
}

/** Whether a process in this state runs: a zombie has finished (only its exit status is left) or is dead. */
export function runs(stat: ProcessStat): boolean {
  return stat.state !== "Z" && stat.state !== "X";
}

/** Whether the process exists and {@linkcode runs}. */
export function processAlive(pid: number): boolean {
  const stat = processStat(pid);
  return stat !== null && runs(stat);
}

/**
 * Small helpers of the benchmark (scripts/bench.ts): timing a process, scheduling compiles over a
 * dependency graph, medians and progress lines, and reading options whose values are GHC flags.
 *
 * @module
 */

/** A finished process (or in-process request): how long it ran and what it printed. */
export interface Timed {
  ms: number;
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, timing it from spawn to exit and collecting its output. */
export async function timeCommand(
  cmd: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<Timed> {
  const started = performance.now();
  const out = await new Deno.Command(cmd, { args, cwd, env, stdin: "null", stdout: "piped", stderr: "piped" })
    .output();
  const ms = performance.now() - started;
  const decoder = new TextDecoder();
  return { ms, code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** The mean of some numbers (NaN for none). */
export function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** The median of some numbers (NaN for none). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Runs `task` for every name in `order`, at most `jobs` at a time, starting a name only once all its
 * `deps` have finished (ready names in `order`'s order). After a result `ok` rejects, starts nothing new.
 */
export async function runDag<T>(
  order: readonly string[],
  deps: ReadonlyMap<string, readonly string[]>,
  jobs: number,
  task: (name: string) => Promise<T>,
  ok: (result: T) => boolean,
): Promise<Map<string, T>> {
  const known = new Set(order);
  // Dependencies outside `order` (e.g. cut off by --limit) cannot be waited for: ignore them.
  const waiting = new Map(
    order.map((name) => [name, new Set((deps.get(name) ?? []).filter((d) => known.has(d)))]),
  );
  const results = new Map<string, T>();
  const running = new Set<Promise<void>>();
  let failed = false;
  const start = (name: string) => {
    waiting.delete(name);
    const run: Promise<void> = task(name).then((result) => {
      results.set(name, result);
      if (!ok(result)) failed = true;
      for (const left of waiting.values()) left.delete(name);
    }).finally(() => running.delete(run));
    running.add(run);
  };
  for (;;) {
    if (!failed) {
      for (const name of order) {
        if (running.size >= jobs) break;
        if (waiting.get(name)?.size === 0) start(name);
      }
    }
    if (running.size === 0) return results;
    await Promise.race(running);
  }
}

const encoder = new TextEncoder();

/** Writes a progress line to stderr (overwriting the previous one on a terminal when `transient`). */
export function progress(text: string, transient = false): void {
  if (Deno.stderr.isTerminal()) {
    Deno.stderr.writeSync(encoder.encode(`\r\x1b[K${text}${transient ? "" : "\n"}`));
  } else if (!transient) {
    Deno.stderr.writeSync(encoder.encode(`${text}\n`));
  }
}

/** Seconds with two decimals. */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/** The 1-minute load average (from /proc/loadavg), to show how busy the machine was; "?" if unknown. */
export function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "?";
  }
}

/** The machine's CPU time counters (from the "cpu" line of /proc/stat); null if unknown. */
export function cpuTimes(): number[] | null {
  try {
    const line = Deno.readTextFileSync("/proc/stat").split("\n").find((l) => l.startsWith("cpu "));
    return line === undefined ? null : line.trim().split(/\s+/).slice(1).map(Number);
  } catch {
    return null;
  }
}

/**
 * The share of CPU time the hypervisor gave to other machines ("steal") between two {@linkcode cpuTimes}
 * readings, as a percentage: on a shared virtual machine, a high figure means the timings are unreliable.
 */
export function stealPercent(before: number[] | null, after: number[] | null): string {
  if (before === null || after === null || before.length < 8) return "?";
  const delta = after.map((t, i) => t - before[i]);
  // user, nice, system, idle, iowait, irq, softirq, steal (guest time is already in user and nice).
  const total = delta.slice(0, 8).reduce((a, b) => a + b, 0);
  return total > 0 ? `${(100 * delta[7] / total).toFixed(0)}%` : "?";
}

/**
 * Joins `--flags VALUE` into `--flags=VALUE`: parseArgs refuses a separate value that starts with a dash,
 * and GHC flags always do.
 */
export function attachDashValues(args: readonly string[], options: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (options.includes(args[i]) && i + 1 < args.length) out.push(`${args[i]}=${args[++i]}`);
    else out.push(args[i]);
  }
  return out;
}

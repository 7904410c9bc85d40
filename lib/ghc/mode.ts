/**
 * Decides how an invocation runs: in a warm worker, or on the real ghc. ghc's own Main picks a mode from
 * its mode flags before anything else; ghcpw does the same here, once, and sends the worker the mode and
 * the remaining arguments. What a worker cannot reproduce byte for byte runs on the real ghc: the
 * query modes, interactive and evaluation modes, conflicting mode flags, and RTS options, which cannot
 * apply to a GHC process that is already running.
 *
 * @module
 */

import type { Environment } from "../process/environment.ts";

/** How one invocation runs. */
export type Plan =
  | {
    kind: "worker";
    /** The mode as the worker names it: ["c"], ["E"], ["S"], ["M"], ["make"] or ["show-iface", file]. */
    mode: string[];
    /** The arguments with the mode flags taken out, as ghc's Main passes them on. */
    args: string[];
  }
  | { kind: "direct"; reason: string };

/** Mode flags that only print something about the compiler: the real ghc answers them. */
const QUERY_FLAGS = new Set([
  "-?",
  "--help",
  "-V",
  "--version",
  "--numeric-version",
  "--info",
  "--show-options",
  "--supported-languages",
  "--supported-extensions",
  "--show-packages",
]);

/** Mode flags of modes a worker does not serve. */
const DIRECT_MODE_FLAGS = new Set(["--interactive", "--abi-hash", "--backpack", "-C", "--run"]);

/** Mode flags that take the next argument. */
const DIRECT_MODE_FLAGS_WITH_ARG = new Set(["-e", "--frontend"]);

const WORKER_MODES: Record<string, string> = { "-c": "c", "-E": "E", "-S": "S", "-M": "M", "--make": "make" };

/**
 * Plans an invocation from its arguments (response files already expanded) and its environment.
 * `rawArgv` is the argv before expansion: RTS options are only ever taken from the real command line.
 */
export function planInvocation(
  rawArgv: readonly string[],
  args: readonly string[],
  env: Environment,
): Plan {
  if (rawArgv.some((a) => a === "+RTS" || a === "--RTS")) {
    return { kind: "direct", reason: "RTS options apply to a new GHC process only" };
  }
  if (env.get("GHCRTS") !== undefined) {
    return { kind: "direct", reason: "GHCRTS applies to a new GHC process only" };
  }
  if (args.some((a) => a.startsWith("-B"))) {
    return { kind: "direct", reason: "-B selects another GHC libdir" };
  }

  const modes: string[][] = [];
  const rest: string[] = [];
  let noLink = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (QUERY_FLAGS.has(arg) || arg.startsWith("--print-")) return { kind: "direct", reason: `query ${arg}` };
    if (DIRECT_MODE_FLAGS.has(arg) || DIRECT_MODE_FLAGS_WITH_ARG.has(arg)) {
      return { kind: "direct", reason: `mode ${arg}` };
    }
    if (arg in WORKER_MODES) {
      modes.push([WORKER_MODES[arg]]);
      if (arg === "-c") noLink = true;
    } else if (arg === "--show-iface" || arg.startsWith("--show-iface")) {
      const file = arg === "--show-iface" ? args[++i] : arg.slice("--show-iface".length);
      if (file === undefined) return { kind: "direct", reason: "--show-iface without a file" };
      modes.push(["show-iface", file]);
    } else {
      rest.push(arg);
    }
  }
  const mode = combineModes(modes);
  if (mode === null) return { kind: "direct", reason: "conflicting mode flags" };
  // As in ghc's Main: -c adds -no-link ahead of the remaining flags (and -c with --make means --make -no-link).
  return { kind: "worker", mode, args: noLink ? ["-no-link", ...rest] : rest };
}

/** ghc's rules for several mode flags: repeats are fine, -c with --make is --make, the rest conflict. */
function combineModes(modes: string[][]): string[] | null {
  const distinct = [...new Map(modes.map((m) => [m.join("\0"), m])).values()];
  if (distinct.length === 0) return ["make"];
  if (distinct.length === 1) return distinct[0];
  const names = new Set(distinct.map((m) => m[0]));
  if (names.size === 2 && names.has("c") && names.has("make")) return ["make"];
  return null;
}

/**
 * The affinity of an invocation: the flags and environment that decide which GHC state a worker can
 * reuse for it (package databases and environments, optimisation, ways). The pool routes an invocation
 * to a worker that last served the same affinity, so warm state fits; workers still validate their
 * caches themselves, so a rough affinity costs speed, never correctness.
 *
 * @module
 */

import type { Environment } from "../process/environment.ts";

/** Flags that take the next argument and affect which packages and interfaces are loaded. */
const WITH_ARGUMENT = new Set(["-package-db", "-package-env", "-package-conf"]);

/** Flag prefixes that change how interfaces are loaded or which ones. */
const PREFIXES = [
  "-O",
  "-package-db=",
  "-package-env=",
  "-fignore-interface-pragmas",
  "-fomit-interface-pragmas",
];

/** Standalone flags that select package databases or ways. */
const FLAGS = new Set([
  "-dynamic",
  "-dynamic-too",
  "-static",
  "-prof",
  "-threaded",
  "-debug",
  "-clear-package-db",
  "-global-package-db",
  "-no-global-package-db",
  "-user-package-db",
  "-no-user-package-db",
  "-hide-all-packages",
]);

/** Environment variables that select package databases or environments. */
const ENV = ["GHC_PACKAGE_PATH", "GHC_ENVIRONMENT"];

/** Computes the affinity key of an invocation (its arguments after response-file expansion). */
export function affinityOf(args: readonly string[], env: Environment): string {
  const parts: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (WITH_ARGUMENT.has(arg)) parts.push(arg, args[++i] ?? "");
    else if (FLAGS.has(arg) || PREFIXES.some((p) => arg.startsWith(p))) parts.push(arg);
  }
  for (const name of ENV) {
    const value = env.get(name);
    if (value !== undefined) parts.push(`${name}=${value}`);
  }
  return parts.join("\0");
}

/**
 * GHC's diagnostics compared as a set: an incremental build prints the warnings of modules it did not
 * compile after GHC's own, so only the messages, not their order, must equal a clean build's.
 *
 * @module
 */

/** GHC's progress lines (`[1 of 3] Compiling A ...`, `Linking ...`), which a mixed output may hold. */
const PROGRESS = /^(\[\s*\d+ of \d+\] Compiling |Linking ).*$/gm;

/** The messages in GHC's output (it prints a blank line before each), sorted; progress lines left out. */
export function diagnosticSet(output: string): string[] {
  return output.replace(PROGRESS, "").split(/\n\s*\n/).map((m) => m.trim()).filter((m) => m !== "").sort();
}

/** The modules GHC says it compiled, in its order. */
export function compiledNames(output: string): string[] {
  return [...output.matchAll(/^\[\s*\d+ of \d+\] Compiling (\S+)/gm)].map((m) => m[1]);
}

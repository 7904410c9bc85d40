/**
 * The restore plan: which modules' saved outputs go back into the output directories before GHC runs.
 * Pure, so every rule that keeps a wrong skip out is in one place and unit-tested.
 *
 * @module
 */

import type { ModuleRecord } from "./manifest.ts";

/** A module of the current command line, as read before the build. */
export interface CurrentSource {
  source: string;
  /** Its name, or null where it cannot be read safely. */
  module: string | null;
  sourceHash: string;
  bootHash: string | null;
  /** Its options pragmas run a plugin or program of the user's (see ModuleHeader.pragmaRunsCode). */
  pragmaRunsCode: boolean;
}

/** What to restore, and why each other module (saved, or of the source list) is not restored. */
export interface RestorePlan {
  restore: ModuleRecord[];
  /**
   * Saved modules unchanged since, whose outputs the directories already hold (a build tool kept them):
   * left in place for GHC to judge; if GHC skips one and its files are still the saved ones, its saved
   * warnings are what a clean build would print for it.
   */
  kept: ModuleRecord[];
  /** By module name (a source's path where its name cannot be read). */
  skipped: { module: string; reason: string }[];
}

/**
 * Code run while compiling (Template Haskell, quasi-quotes, annotations) may have read files, the
 * environment or anything else nothing records, so GHC's own check cannot tell whether it is up to date.
 */
const RAN_CODE = "it ran Template Haskell, a quasi-quote or an annotation when compiled";
const PRAGMA_RUNS_CODE = "its OPTIONS_GHC runs a plugin or program (-fplugin, -F, -pgm...)";

/**
 * Chooses the saved modules to restore: only a module of the current source list whose source and boot
 * file hash exactly as when its outputs were made, whose name is unambiguous, for which the build that
 * made them ran no code of the user's (no splice, quasi-quote or annotation) and whose pragmas run no
 * plugin or program, and of which the output directories hold nothing yet (a build tool that kept its
 * outputs keeps them: such a module is `kept`, whatever it ran).
 * A source whose text does not give its name (CPP before the header, a literate source) is taken to be
 * the module GHC read from it when the outputs were made, its source and boot file being the same; what a
 * CPP include or a preprocessor may have changed since is for the build to check (GHC reports the names
 * it built, see build.ts).
 * Everything else (deleted, renamed, edited modules) is left for GHC to compile; so is every module of
 * the source list that nothing was saved for.
 */
export function planRestore(
  saved: readonly ModuleRecord[],
  current: readonly CurrentSource[],
  present: ReadonlySet<string>,
): RestorePlan {
  const bySource = new Map(current.map((c) => [c.source, c]));
  const savedBySource = new Map(saved.map((r) => [r.source, r]));
  const unchanged = (c: CurrentSource, r: ModuleRecord) =>
    c.sourceHash === r.sourceHash && c.bootHash === r.bootHash;
  const nameOf = (c: CurrentSource): string | null => {
    if (c.module !== null) return c.module;
    const r = savedBySource.get(c.source);
    return r !== undefined && unchanged(c, r) ? r.module : null;
  };
  const names = new Map<string, number>();
  for (const c of current) {
    const name = nameOf(c);
    if (name !== null) names.set(name, (names.get(name) ?? 0) + 1);
  }
  const restore: ModuleRecord[] = [];
  const kept: ModuleRecord[] = [];
  const skipped: { module: string; reason: string }[] = [];
  for (const record of saved) {
    const c = bySource.get(record.source);
    const reason = c === undefined
      ? "not in the source list"
      : c.sourceHash !== record.sourceHash
      ? "its source changed"
      : c.bootHash !== record.bootHash
      ? "its boot file changed"
      : nameOf(c) !== record.module
      ? "its name changed"
      : names.get(record.module) !== 1
      ? "more than one source has its name"
      : null;
    if (reason !== null) skipped.push({ module: record.module, reason });
    else if (present.has(record.module)) kept.push(record);
    else if (record.ranCode) skipped.push({ module: record.module, reason: RAN_CODE });
    else if (c!.pragmaRunsCode) skipped.push({ module: record.module, reason: PRAGMA_RUNS_CODE });
    else restore.push(record);
  }
  for (const c of current) {
    if (savedBySource.has(c.source)) continue;
    skipped.push({ module: c.module ?? c.source, reason: "nothing saved for it" });
  }
  return { restore, kept, skipped };
}

/** The modules not restored, grouped by reason (`reason: A, B; reason: C`), for the debug log. */
export function describeSkipped(skipped: readonly { module: string; reason: string }[]): string {
  const byReason = new Map<string, string[]>();
  for (const { module, reason } of skipped) byReason.set(reason, [...byReason.get(reason) ?? [], module]);
  return [...byReason].map(([reason, modules]) => `${reason}: ${modules.join(", ")}`).join("; ");
}

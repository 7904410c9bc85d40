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
  usesSplices: boolean;
}

/** What to restore, and why each other saved module is not restored. */
export interface RestorePlan {
  restore: ModuleRecord[];
  skipped: { module: string; reason: string }[];
}

/**
 * Chooses the saved modules to restore: only a module of the current source list whose source and boot
 * file hash exactly as when its outputs were made, whose name is unambiguous, that runs no splices, and
 * of which the output directories hold nothing yet (a build tool that kept its outputs keeps them).
 * Everything else (deleted, renamed, edited modules) is left for GHC to compile.
 */
export function planRestore(
  saved: readonly ModuleRecord[],
  current: readonly CurrentSource[],
  present: ReadonlySet<string>,
): RestorePlan {
  const bySource = new Map(current.map((c) => [c.source, c]));
  const names = new Map<string, number>();
  for (const c of current) if (c.module !== null) names.set(c.module, (names.get(c.module) ?? 0) + 1);
  const restore: ModuleRecord[] = [];
  const skipped: { module: string; reason: string }[] = [];
  for (const record of saved) {
    const c = bySource.get(record.source);
    const reason = c === undefined
      ? "not in the source list"
      : c.module !== record.module
      ? "its name changed or cannot be read"
      : names.get(record.module) !== 1
      ? "more than one source has its name"
      : c.usesSplices
      ? "it may run Template Haskell"
      : c.sourceHash !== record.sourceHash
      ? "its source changed"
      : c.bootHash !== record.bootHash
      ? "its boot file changed"
      : present.has(record.module)
      ? "its outputs are already there"
      : null;
    if (reason === null) restore.push(record);
    else skipped.push({ module: record.module, reason });
  }
  return { restore, skipped };
}

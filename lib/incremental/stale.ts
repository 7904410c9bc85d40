/**
 * Interfaces GHC keeps stale. When a home module's module hash changes but nothing a user of it used
 * did (and, for a direct import, not its exports either: say an export added to a module its users
 * reach through a re-export), GHC's recompilation check skips the user and keeps its interface, which
 * records the old module hash where a cold build records the new one; plain `ghc --make` in a kept tree
 * does the same. The worker names such modules after a successful build (lib/plugin/Ghcpw/Stale.hs);
 * their outputs are removed and GHC runs again, compiling just them, until none is reported.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { resolve } from "node:path";
import { scanOutputs } from "./outputs.ts";

const log = getLogger(["ghcpw", "incremental"]);

/**
 * Runs GHC again at most this often for one build. Each run compiles the modules found stale by the one
 * before; one more is needed only where a recompiled module's module hash changed and GHC skipped its
 * users in turn, so a few suffice, and each costs one `--make` that finds the rest up to date.
 */
const MAX_RERUNS = 8;

/** One GHC run of a build: its exit code and, from a worker, the modules whose interfaces it kept stale. */
export interface MakeRun {
  code: number;
  staleModules?: readonly string[];
}

/**
 * After a successful `first` run, removes the outputs of the modules it reports stale and runs GHC again
 * (`rerun`), while any are reported. `settled`: the last run reported none, or failed; not settled when
 * a run did not say (the real ghc ran) or the reruns ran out, so its interfaces may be stale.
 */
export async function rebuildStale(
  cwd: string,
  outputDirs: readonly string[],
  first: MakeRun,
  rerun: () => Promise<MakeRun>,
): Promise<{ code: number; settled: boolean }> {
  let last = first;
  for (let reruns = 0; last.code === 0; reruns++) {
    const stale = last.staleModules;
    if (stale === undefined || stale.length === 0) return { code: 0, settled: stale !== undefined };
    if (reruns === MAX_RERUNS) break;
    log.debug("Stale interfaces (an old module hash of a home module they use): compiling {modules}", {
      modules: stale.join(" "),
    });
    const found = await scanOutputs(cwd, outputDirs);
    for (const module of stale) {
      for (const f of found.get(module) ?? []) await Deno.remove(`${resolve(cwd, f.dir)}/${f.path}`);
    }
    last = await rerun();
  }
  return { code: last.code, settled: last.code !== 0 };
}

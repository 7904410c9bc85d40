/**
 * The library units installed in GHC's global package database (`ghc-pkg dump`), and the unit id each of a
 * library's dependencies resolves to.
 *
 * @module
 */

import { findExecutable, findGhcPkg } from "../../lib/ghc/installation.ts";
import { compareVersions } from "./cabal_file.ts";
import { RealLibraryError, runQuiet } from "./process.ts";

/** One installed library unit: its (main-library) package name, version and unit id. */
export interface InstalledUnit {
  name: string;
  version: string;
  id: string;
}

/**
 * Parses `ghc-pkg dump`: one unit per `---`-separated stanza. Sublibraries have a z-encoded `name`
 * (`z-vector-z-benchmarks-O2`), so matching on `name` finds main libraries only.
 */
export function parsePackageDump(text: string): InstalledUnit[] {
  return text.split(/^---$/m).flatMap((stanza) => {
    const field = (key: string) => new RegExp(`^${key}:\\s*(\\S+)`, "m").exec(stanza)?.[1];
    const [name, version, id] = [field("name"), field("version"), field("id")];
    return name && version && id ? [{ name, version, id }] : [];
  });
}

/**
 * Resolves each dependency name to the unit id of its newest installed main library in GHC's global
 * package database; fails clearly (naming them) when some are missing, rather than deep in ghc -M.
 */
export async function resolveDependencies(
  ghc: string,
  ghcVersion: string,
  dependencies: string[],
): Promise<string[]> {
  const ghcPath = findExecutable(ghc);
  if (ghcPath === null) throw new RealLibraryError(`cannot find ${ghc}`);
  const ghcPkg = findGhcPkg(ghcPath, ghcVersion);
  const dump = await runQuiet(ghcPkg, ["dump", "--global"]);
  if (dump.code !== 0) throw new RealLibraryError(`${ghcPkg} dump --global failed: ${dump.stderr}`);
  const units = parsePackageDump(dump.stdout);
  const missing: string[] = [];
  const ids = dependencies.map((name) => {
    const candidates = units.filter((u) => u.name === name).sort((a, b) =>
      compareVersions(b.version, a.version)
    );
    if (!candidates.length) missing.push(name);
    return candidates[0]?.id ?? "";
  });
  if (missing.length) {
    throw new RealLibraryError(
      `dependencies missing from GHC's global package database: ${missing.join(", ")}`,
    );
  }
  return ids;
}

/**
 * The GHC flags Cabal would pass to build a library's Haskell modules and C sources one-shot (`ghc -c`).
 *
 * @module
 */

import { type LibraryInfo, unitIdOf } from "./cabal_file.ts";

/**
 * The GHC flags that compile the library's Haskell modules as Cabal would (paths relative to the source
 * directory): only its declared dependencies visible, its source directories, language and extensions,
 * CPP options, include directories, ghc-options and its unit id. Output directories are separate
 * ({@linkcode outputFlags}) because `ghc -M` must not have them.
 *
 * Dependencies are exposed by unit id (`-package-id`, as Cabal does), not by name: `-package vector` is
 * ambiguous when a package also installs a public sublibrary of the same package name (Debian sid's
 * vector ships `vector:benchmarks-O2`), and GHC 9.10 then exposes the sublibrary instead of the library.
 */
export function ghcFlags(info: LibraryInfo, dependencyIds: string[]): string[] {
  return [
    "-no-user-package-db",
    "-hide-all-packages",
    ...dependencyIds.flatMap((id) => ["-package-id", id]),
    "-this-unit-id",
    unitIdOf(info),
    "-i",
    ...info.sourceDirs.map((d) => `-i${d}`),
    ...info.includeDirs.map((d) => `-I${d}`),
    ...(info.language ? [`-X${info.language}`] : []),
    ...info.extensions.map((x) => `-X${x}`),
    ...info.cppOptions.map((o) => `-optP${o}`),
    ...info.ghcOptions,
  ];
}

/**
 * Puts every output under `buildDir` and adds it to the import path, as Cabal does: one-shot compiles find
 * home interfaces on the import path (GHC 9.0 does not search -hidir for them).
 */
export function outputFlags(buildDir: string): string[] {
  return [`-i${buildDir}`, "-odir", buildDir, "-hidir", buildDir, "-stubdir", buildDir];
}

/** The flags for compiling the library's C sources with `ghc -c` (as Cabal does: include dirs, cc-options). */
export function cFlags(info: LibraryInfo, buildDir: string): string[] {
  return [
    "-no-user-package-db",
    ...info.includeDirs.map((d) => `-I${d}`),
    ...info.ccOptions.map((o) => `-optc${o}`),
    ...info.cppOptions.map((o) => `-optc${o}`),
    ...outputFlags(buildDir),
  ];
}

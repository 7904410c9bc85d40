/**
 * A real Haskell library that no one here wrote, for tests and benchmarks: Debian's source package
 * `haskell-<name>` (debian_source.ts) with its dependencies from `libghc-<name>-dev`, plus what it takes to
 * build it module by module with one-shot `ghc -c` the way Cabal would: the GHC flags from the .cabal
 * file's library stanza (cabal_file.ts, ghc_flags.ts) and the modules in dependency order (module_order.ts).
 *
 * Flags take their declared defaults (what Debian builds when debian/rules passes no --flags);
 * `cabal_macros.h` and `Paths_<name>` are not generated (GHC itself defines `MIN_VERSION_<pkg>` for every
 * exposed package), so a library needing them is refused with a message rather than built differently.
 *
 * @module
 */

import { type LibraryInfo, libraryInfo, unitIdOf } from "./cabal_file.ts";
import { fetchLibrarySource } from "./debian_source.ts";
import { cFlags, ghcFlags, outputFlags } from "./ghc_flags.ts";
import { resolveDependencies } from "./installed_units.ts";
import type { BuildStep } from "./module_order.ts";
import { progress, RealLibraryError, runQuiet } from "./process.ts";
import { checkNoCabalMacros, moduleSteps } from "./source_tree.ts";

/** A real library ready to be built module by module. */
export interface RealLibrary extends LibraryInfo {
  /** The unpacked sources; every path in `flags` and `steps` is relative to it. */
  dir: string;
  sourcePackage: string;
  debianVersion: string;
  unitId: string;
  /** The installed unit each of `dependencies` resolved to. */
  dependencyIds: string[];
  ghcVersion: string;
  /** Where `flags` put .o/.hi files, relative to `dir`. */
  buildDir: string;
  /** Flags for every Haskell module (`ghc -c FLAGS FILE`); add -O level, -dynamic-too and the like. */
  flags: string[];
  /** Flags for the C sources (`ghc -c CFLAGS FILE.c`). */
  cSourceFlags: string[];
  /** C sources first, then Haskell modules in dependency order. */
  steps: BuildStep[];
}

/** Options of {@linkcode prepareRealLibrary}. */
export interface PrepareOptions {
  /** The ghc that will build it (its version decides `impl(ghc ...)` conditions). Default: ghc on PATH. */
  ghc?: string;
  /** Output directory relative to the sources, default `dist/build` (as Cabal). */
  buildDir?: string;
  /** Flag assignments overriding the .cabal file's defaults. */
  flags?: Map<string, boolean>;
}

/**
 * Fetches (once) Debian's `haskell-<name>` with its dependencies and returns how to build its library
 * module by module: flags, C sources and Haskell modules in dependency order.
 */
export async function prepareRealLibrary(name: string, options: PrepareOptions = {}): Promise<RealLibrary> {
  const ghc = options.ghc ?? "ghc";
  const buildDir = options.buildDir ?? "dist/build";
  const fetched = await fetchLibrarySource(name);
  const cabalFiles: string[] = [];
  for await (const entry of Deno.readDir(fetched.dir)) {
    if (entry.name.endsWith(".cabal")) cabalFiles.push(entry.name);
  }
  if (cabalFiles.length !== 1) {
    throw new RealLibraryError(`expected one .cabal file in ${fetched.dir}, found ${cabalFiles.length}`);
  }
  const version = await runQuiet(ghc, ["--numeric-version"]);
  if (version.code !== 0) throw new RealLibraryError(`${ghc} --numeric-version failed: ${version.stderr}`);
  const ghcVersion = version.stdout.trim();
  const info = libraryInfo(
    await Deno.readTextFile(`${fetched.dir}/${cabalFiles[0]}`),
    { ghcVersion, os: "linux", arch: Deno.build.arch === "aarch64" ? "aarch64" : "x86_64" },
    options.flags,
  );
  const dependencyIds = await resolveDependencies(ghc, ghcVersion, info.dependencies);
  progress(`${info.name}-${info.version}: working out the module order (ghc -M)`);
  const hsSteps = await moduleSteps(ghc, fetched.dir, info, dependencyIds);
  await checkNoCabalMacros(fetched.dir, hsSteps.map((s) => s.file));
  const cSteps: BuildStep[] = info.cSources.map((file) => ({ module: null, file, imports: [] }));
  return {
    ...info,
    dir: fetched.dir,
    sourcePackage: fetched.sourcePackage,
    debianVersion: fetched.debianVersion,
    unitId: unitIdOf(info),
    ghcVersion,
    buildDir,
    dependencyIds,
    flags: [...ghcFlags(info, dependencyIds), ...outputFlags(buildDir)],
    cSourceFlags: cFlags(info, buildDir),
    steps: [...cSteps, ...hsSteps],
  };
}

/** Whether a ghc is dynamically linked: then one-shot Template Haskell needs `-dynamic-too`. */
export async function ghcIsDynamic(ghc: string): Promise<boolean> {
  const info = await runQuiet(ghc, ["--info"]);
  return /\("GHC Dynamic","YES"\)/.test(info.stdout);
}

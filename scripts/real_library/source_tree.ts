/**
 * What an unpacked library's source tree holds for a build: each module's source file, the modules in
 * dependency order as `ghc -M` sees them, and whether the sources need Cabal-generated macros.
 *
 * @module
 */

import type { LibraryInfo } from "./cabal_file.ts";
import { ghcFlags } from "./ghc_flags.ts";
import { type BuildStep, parseDepMakefile, stepsOfGraph } from "./module_order.ts";
import { RealLibraryError, runQuiet } from "./process.ts";

/** Finds a module's source file (`.hs` or `.lhs`; no preprocessors such as .hsc) in the source directories. */
export async function findModuleSource(dir: string, sourceDirs: string[], module: string): Promise<string> {
  for (const srcDir of sourceDirs) {
    for (const ext of [".hs", ".lhs"]) {
      const rel = `${srcDir === "." ? "" : `${srcDir}/`}${module.replaceAll(".", "/")}${ext}`;
      try {
        await Deno.stat(`${dir}/${rel}`);
        return rel;
      } catch {
        // try the next
      }
    }
  }
  throw new RealLibraryError(
    `no source for module ${module} in ${sourceDirs.join(", ")} (generated modules such as .hsc, Paths_* ` +
      `and autogen modules are not supported)`,
  );
}

/**
 * The one-shot build steps of the library's Haskell modules in dependency order, computed with `ghc -M`
 * (so CPP, conditional imports and hs-boot files are resolved exactly as GHC sees them).
 */
export async function moduleSteps(
  ghc: string,
  dir: string,
  info: LibraryInfo,
  dependencyIds: string[],
): Promise<BuildStep[]> {
  const modules = [...info.exposedModules, ...info.otherModules];
  const sources = await Promise.all(modules.map((m) => findModuleSource(dir, info.sourceDirs, m)));
  const depFile = await Deno.makeTempFile({ prefix: "ghcpw-real-lib-", suffix: ".mk" });
  try {
    // No output directories: then every -M target sits beside its source.
    const r = await runQuiet(ghc, [
      "-M",
      "-dep-makefile",
      depFile,
      "-dep-suffix",
      "",
      ...ghcFlags(info, dependencyIds),
      ...sources,
    ], {
      cwd: dir,
    });
    if (r.code !== 0) throw new RealLibraryError(`ghc -M failed (exit ${r.code}):\n${r.stderr}`);
    return stepsOfGraph(parseDepMakefile(await Deno.readTextFile(depFile)), info.sourceDirs);
  } finally {
    await Deno.remove(depFile).catch(() => {});
  }
}

/**
 * The first Cabal-generated macro (cabal_macros.h) a source uses and does not define itself, or null. A
 * source that defines the macro (generics-sop's `#ifndef MIN_TOOL_VERSION_haddock` / `#define ...`
 * fallback for Cabal versions without it) builds as its authors intend without cabal_macros.h.
 */
export function cabalMacroNeeded(source: string): string | null {
  const defined = new Set(
    [...source.matchAll(/^[ \t]*#[ \t]*define[ \t]+([A-Za-z_][A-Za-z0-9_]*)/gm)].map((m) => m[1]),
  );
  const used = source.matchAll(
    /\b(CURRENT_PACKAGE_(?:KEY|VERSION)|CURRENT_COMPONENT_ID|VERSION_[a-z][a-z0-9_]*|MIN_TOOL_VERSION_[a-z0-9_]+)\b/g,
  );
  for (const [, macro] of used) if (!defined.has(macro)) return macro;
  return null;
}

/** Refuses a library whose sources need Cabal-generated macros that this script does not provide. */
export async function checkNoCabalMacros(dir: string, files: string[]): Promise<void> {
  for (const file of files) {
    const macro = cabalMacroNeeded(await Deno.readTextFile(`${dir}/${file}`));
    if (macro) {
      throw new RealLibraryError(
        `${file} uses ${macro}, a cabal_macros.h macro this script does not generate`,
      );
    }
  }
}

/**
 * Real Debian libraries in the suites (scripts/real_library/): fetching one for the GHC under test, the
 * flags every suite builds it with, and the check that a tree built through ghcpw holds the interfaces of
 * the tree plain ghc built.
 *
 * @module
 */

import { assertEquals } from "./assert.ts";
import { GHC, listFiles, outputMismatch, run } from "./helpers.ts";
import {
  ghcIsDynamic as isDynamicGhc,
  prepareRealLibrary,
  type RealLibrary,
} from "../../scripts/real_library/library.ts";
import { type FetchedSource, fetchLibrarySource } from "../../scripts/real_library/debian_source.ts";

/** Runs `fetch`, turning any failure into a message that says what the test needed. */
async function needed<T>(name: string, fetch: () => Promise<T>): Promise<T> {
  try {
    return await fetch();
  } catch (e) {
    throw new Error(
      `cannot get Debian's haskell-${name} and its dependencies for this test (apt needs root and the ` +
        `Debian mirror; the test must not pass without them): ${e instanceof Error ? e.message : e}`,
    );
  }
}

/** Fetches a library for the GHC under test, prepared for building module by module. */
export function fetchRealLibrary(name: string): Promise<RealLibrary> {
  return needed(name, () => prepareRealLibrary(name, { ghc: GHC }));
}

/** Fetches a library's Debian source package as it is (for builds by Cabal), with its dependencies installed. */
export function fetchRealSource(name: string): Promise<FetchedSource> {
  return needed(name, () => fetchLibrarySource(name));
}

/** Whether the GHC under test is dynamically linked: then Template Haskell in one-shot mode needs -dynamic-too. */
export function ghcIsDynamic(): Promise<boolean> {
  return isDynamicGhc(GHC);
}

/**
 * The flags the suites compile a library's Haskell modules with: its own, -O0 to keep the suites to minutes
 * on three GHCs, and -dynamic-too on a dynamic GHC because Template Haskell needs it there.
 */
export function suiteFlags(lib: RealLibrary, dynamic: boolean): string[] {
  return [...lib.flags, "-O0", ...(dynamic ? ["-dynamic-too"] : [])];
}

/** Copies the library's sources into `tree` (created if missing). */
export async function copySources(lib: RealLibrary, tree: string): Promise<void> {
  await Deno.mkdir(tree, { recursive: true });
  const copy = await run("cp", ["-a", `${lib.dir}/.`, tree]);
  assertEquals(copy.code, 0, `copying the sources failed: ${copy.stderr}`);
}

/** The interface files a compile of `module` writes (`X[boot]` is an hs-boot file). */
export function interfaceFiles(lib: RealLibrary, module: string, dynamic: boolean): string[] {
  const boot = module.endsWith("[boot]");
  const base = `${lib.buildDir}/${module.replace(/\[boot\]$/, "").replaceAll(".", "/")}`;
  const suffix = boot ? "-boot" : "";
  return [`${base}.hi${suffix}`, ...(dynamic ? [`${base}.dyn_hi${suffix}`] : [])];
}

/**
 * How the listed modules' interfaces in ghcpw's tree (`warm`) differ from cold ghc's, one message per file
 * (the shared comparison of scripts/output_compare.ts); empty if they do not.
 */
export async function interfaceMismatches(
  cold: string,
  warm: string,
  lib: RealLibrary,
  modules: string[],
  dynamic: boolean,
): Promise<string[]> {
  const mismatches: string[] = [];
  for (const module of modules) {
    for (const file of interfaceFiles(lib, module, dynamic)) {
      const read = (tree: string) => Deno.readFile(`${tree}/${file}`).catch(() => null);
      const [a, b] = await Promise.all([read(cold), read(warm)]);
      const mismatch = a === null || b === null
        ? `${file}: missing from ${a === null ? "ghc's" : "ghcpw's"} tree`
        : await outputMismatch(cold, warm, file);
      if (mismatch) mismatches.push(mismatch);
    }
  }
  return mismatches;
}

/** Asserts both trees hold the same files and every listed module's interfaces match; lists every mismatch. */
export async function assertSameInterfaces(
  cold: string,
  warm: string,
  lib: RealLibrary,
  modules: string[],
  dynamic: boolean,
): Promise<void> {
  assertEquals(
    await listFiles(warm),
    await listFiles(cold),
    "ghcpw and ghc produced different sets of files",
  );
  const mismatches = await interfaceMismatches(cold, warm, lib, modules, dynamic);
  assertEquals(
    mismatches,
    [],
    `interface files differ between ghcpw and cold ghc:\n${mismatches.join("\n")}`,
  );
}

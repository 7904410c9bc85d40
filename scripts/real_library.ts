/**
 * The command line of scripts/real_library/: fetches a real Haskell library from Debian (once, cached) and
 * prints how to build it module by module like Cabal (module count, one-shot build order, ghc flags).
 * Tests and benchmarks import scripts/real_library/library.ts instead.
 *
 * Run `deno run -A scripts/real_library.ts --help` for the command line.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { prepareRealLibrary } from "./real_library/library.ts";
import { RealLibraryError } from "./real_library/process.ts";

export const HELP = `real_library.ts: fetch a real Haskell library from Debian and print how to build it

Usage: deno run -A scripts/real_library.ts [options] NAME

Fetches (once, cached) Debian's source package haskell-NAME with \`apt-get source\` and installs
libghc-NAME-dev for its dependencies (needs root the first time), then prints the library's module
count, the one-shot build order and the ghc flags that build it like Cabal.

Options:
  --ghc PATH         the ghc that will build it (default: $GHCPW_TEST_GHC or ghc)
  --build-dir DIR    output directory relative to the sources (default: dist/build)
  --flag NAME=BOOL   override a .cabal flag's default (repeatable)
  --json             print everything as JSON instead
  -h, --help         show this help

Environment:
  GHCPW_REAL_LIB_CACHE   cache directory (default /var/cache/ghcpw/real-libs); sources go to CACHE/SUITE/

Example: deno run -A scripts/real_library.ts aeson`;

/** The CLI: prepares the named library and prints a summary (or JSON). */
export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        ghc: { type: "string" },
        "build-dir": { type: "string" },
        flag: { type: "string", multiple: true },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    console.error(`${e instanceof Error ? e.message : e}\n\n${HELP}`);
    return 2;
  }
  if (parsed.values.help) {
    console.log(HELP);
    return 0;
  }
  if (parsed.positionals.length !== 1) {
    console.error(HELP);
    return 2;
  }
  const flags = new Map<string, boolean>();
  for (const assignment of parsed.values.flag ?? []) {
    const m = /^([^=]+)=(true|false)$/i.exec(assignment);
    if (!m) {
      console.error(`--flag wants NAME=true or NAME=false, not '${assignment}'`);
      return 2;
    }
    flags.set(m[1], m[2].toLowerCase() === "true");
  }
  try {
    const lib = await prepareRealLibrary(parsed.positionals[0], {
      ghc: parsed.values.ghc ?? (Deno.env.get("GHCPW_TEST_GHC") || "ghc"),
      buildDir: parsed.values["build-dir"],
      flags,
    });
    if (parsed.values.json) {
      console.log(JSON.stringify(lib, null, 2));
      return 0;
    }
    const modules = lib.steps.filter((s) => s.module !== null);
    console.log(
      `${lib.name}-${lib.version} (Debian ${lib.sourcePackage} ${lib.debianVersion}), GHC ${lib.ghcVersion}`,
    );
    console.log(`sources: ${lib.dir}`);
    console.log(`modules: ${modules.length}; C sources: ${lib.cSources.length}`);
    console.log(`flags: ${lib.flags.join(" ")}`);
    if (lib.cSources.length) console.log(`C flags: ${lib.cSourceFlags.join(" ")}`);
    console.log("build order:");
    for (const step of lib.steps) console.log(`  ${step.file}`);
    return 0;
  } catch (e) {
    if (e instanceof RealLibraryError) {
      console.error(`real-library: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));

/**
 * A warm worker's interfaces must not depend on what it compiled before (issue 12). Two real Debian
 * libraries that no other suite uses (scripts/real_library/; fetched with `apt-get source` at test time)
 * go through ONE ghcpw server twice, module by module with `ghc -c` and with `--make`, in two different
 * orders, so that every module is compiled after other predecessors:
 *
 * 1. libraries in one order, modules in dependency order with ties broken by ascending name; `-c`, then
 *    `--make` with the modules in that order;
 * 2. libraries the other way round, ties broken by descending name; `--make` with the modules in that
 *    order, then `-c`.
 *
 * Every compile must give plain ghc's exit code and output, and every interface (.hi, .dyn_hi, boot ones)
 * must equal cold ghc's byte for byte (scripts/output_compare.ts). The oracle of a `-c` is one fresh ghc
 * per module; that of a `--make` is one fresh `ghc --make` with the same arguments, because GHC records
 * usages of the package interfaces it happens to have loaded, so even plain ghc's `--make` interfaces
 * differ from its `-c` ones, and may differ with the order of its modules.
 *
 * Fetching needs root the first time (apt installs libghc-NAME-dev and fetches the source). When it fails
 * the test fails, unless apt cannot reach the Debian mirror at all: then it is ignored, saying so.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { assertSameRun, ghc, ghcpw, listFiles, type Run, startServer } from "../support/helpers.ts";
import {
  copySources,
  fetchRealLibrary,
  ghcIsDynamic,
  interfaceMismatches,
  suiteFlags,
} from "../support/real_library.ts";
import { debianMirrorUnreachable } from "../../scripts/real_library/debian_source.ts";
import type { RealLibrary } from "../../scripts/real_library/library.ts";
import {
  type BuildStep,
  byName,
  dependentsOf,
  reorderSteps,
} from "../../scripts/real_library/module_order.ts";

/**
 * Libraries that build from Debian's sources with their libghc-*-dev dependencies offline, in which this
 * history showed (issue 12), each without the modules named (and their dependents) to keep the suite to
 * minutes: generics-sop's Instances alone takes longer than the rest of both libraries, and its derived
 * instances add nothing that the other modules' package interfaces do not already exercise. primitive
 * brings a C source and modules over GHC's primitive operations.
 */
const LIBRARIES = [
  { name: "generics-sop", without: ["Generics.SOP.Instances"] },
  { name: "primitive", without: [] },
];

/** The library with the `without` modules and everything that imports them left out of its build. */
function subset(lib: RealLibrary, without: string[]): RealLibrary {
  const dropped = new Set(without.flatMap((m) => dependentsOf(lib.steps, m)));
  for (const module of without) {
    assert(lib.steps.some((s) => s.module === module), `${lib.name} has no ${module}`);
  }
  return { ...lib, steps: lib.steps.filter((s) => !dropped.has(s)) };
}

/** The libraries, the reason the test cannot run here, or why fetching failed. */
type Fetched = { libs: RealLibrary[] } | { skip: string } | { error: unknown };

/** Fetches every library; only an unreachable mirror makes the test skip, any other failure fails it. */
async function fetchLibraries(): Promise<Fetched> {
  try {
    const libs: RealLibrary[] = [];
    for (const { name, without } of LIBRARIES) libs.push(subset(await fetchRealLibrary(name), without));
    return { libs };
  } catch (error) {
    const unreachable = await debianMirrorUnreachable();
    return unreachable === null ? { error } : { skip: unreachable };
  }
}

const fetched = await fetchLibraries();
if ("skip" in fetched) {
  console.warn(`history_test.ts: ignored, the Debian mirror is unreachable: ${fetched.skip}`);
}

/** A way of building: module by module (`-c`) or all at once (`--make`). */
type Mode = "c" | "make";

/** One way through the libraries: their order, the modules' tie-break, and the order of the modes. */
interface Pass {
  name: string;
  libs: RealLibrary[];
  compare: (a: string, b: string) => number;
  modes: Mode[];
}

/** The Haskell sources a --make of the library names, in the pass's order (boot files GHC finds itself). */
function makeTargets(lib: RealLibrary, pass: Pass): string[] {
  return reorderSteps(lib.steps, pass.compare)
    .filter((s) => s.module !== null && !s.module.endsWith("[boot]"))
    .map((s) => s.file);
}

/** The modules (boot ones as `X[boot]`) whose interfaces a build of the library writes. */
function modulesOf(lib: RealLibrary): string[] {
  return lib.steps.flatMap((s) => s.module === null ? [] : [s.module]);
}

/** What a build of one library in one tree ran: each invocation's result, keyed by its source or by "--make". */
type Runs = Map<string, Run>;

/** Compiles the steps one by one with `compile` (plain ghc or ghcpw) in `tree`; returns every result. */
async function compileEach(
  compile: (args: string[], cwd: string) => Promise<Run>,
  lib: RealLibrary,
  steps: BuildStep[],
  hsFlags: string[],
  tree: string,
): Promise<Runs> {
  const runs: Runs = new Map();
  for (const step of steps) {
    runs.set(
      step.file,
      await compile(["-c", ...(step.module === null ? lib.cSourceFlags : hsFlags), step.file], tree),
    );
  }
  return runs;
}

/** Compiles the library with one `--make -no-link` of `targets` in `tree`. */
async function compileMake(
  compile: (args: string[], cwd: string) => Promise<Run>,
  hsFlags: string[],
  targets: string[],
  tree: string,
): Promise<Runs> {
  return new Map([["--make", await compile(["--make", "-no-link", ...hsFlags, ...targets], tree)]]);
}

Deno.test({
  name: "two real libraries through one warm server, -c and --make in two orders, give cold ghc's interfaces",
  ignore: "skip" in fetched,
  async fn(t) {
    if ("error" in fetched) throw fetched.error;
    assert("libs" in fetched);
    const libs = fetched.libs;
    const dynamic = await ghcIsDynamic();
    const flags = new Map(libs.map((lib) => [lib, suiteFlags(lib, dynamic)]));
    for (const lib of libs) {
      console.log(
        `${lib.name}-${lib.version} (Debian ${lib.debianVersion}) on GHC ${lib.ghcVersion}: ` +
          `${modulesOf(lib).length} of its modules, ${lib.cSources.length} C sources`,
      );
    }
    const descending = (a: string, b: string) => byName(b, a);
    const passes: Pass[] = [
      { name: "pass 1", libs, compare: byName, modes: ["c", "make"] },
      { name: "pass 2", libs: [...libs].reverse(), compare: descending, modes: ["make", "c"] },
    ];
    for (const lib of libs) {
      const [first, second] = passes.map((p) => reorderSteps(lib.steps, p.compare).map((s) => s.file));
      assert(first.join() !== second.join(), `${lib.name}: both passes would compile in the same order`);
    }

    const root = await Deno.makeTempDir({ prefix: "ghcpw-history-" });
    const server = await startServer();
    try {
      // Each build in a fresh copy of the sources: ghc's in cold/, ghcpw's in warm/. The oracle of every
      // -c is one tree of one-shot compiles (plain ghc -c does not depend on the order), that of a --make
      // the same --make.
      const tree = (side: "cold" | "warm", lib: RealLibrary, mode: Mode, pass: number) =>
        `${root}/${side}/${mode}-${side === "cold" && mode === "c" ? "any" : pass}/${lib.name}`;
      const runs = new Map<string, Runs>();
      const build = async (side: "cold" | "warm", lib: RealLibrary, mode: Mode, pass: number) => {
        const dir = tree(side, lib, mode, pass);
        await copySources(lib, dir);
        const compile = side === "cold"
          ? ghc
          : (args: string[], cwd: string) => ghcpw(server.socket, args, cwd);
        runs.set(
          dir,
          mode === "c"
            ? await compileEach(
              compile,
              lib,
              reorderSteps(lib.steps, passes[pass].compare),
              flags.get(lib)!,
              dir,
            )
            : await compileMake(compile, flags.get(lib)!, makeTargets(lib, passes[pass]), dir),
        );
      };

      // Plain ghc's builds do not depend on each other, and ghcpw's go through one server in order: run
      // both sides at once (separate trees), so the suite takes about the time of one side.
      const cold = async () => {
        for (const lib of libs) {
          await build("cold", lib, "c", 0);
          for (const pass of passes.keys()) await build("cold", lib, "make", pass);
        }
      };
      const warm = async () => {
        for (const [i, pass] of passes.entries()) {
          const started = Date.now();
          for (const mode of pass.modes) for (const lib of pass.libs) await build("warm", lib, mode, i);
          console.log(`  ${pass.name} through ghcpw in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        }
      };
      const started = Date.now();
      await Promise.all([cold(), warm()]);
      console.log(`  all builds in ${((Date.now() - started) / 1000).toFixed(1)} s`);

      for (const [i, pass] of passes.entries()) {
        for (const mode of pass.modes) {
          const what = `${pass.name}: ${mode === "c" ? "-c" : "--make"}, ${
            pass.libs.map((l) => l.name).join(" then ")
          }`;
          await t.step(what, async () => {
            const problems: string[] = [];
            for (const lib of pass.libs) {
              const [cold, warm] = [tree("cold", lib, mode, i), tree("warm", lib, mode, i)];
              const expected = runs.get(cold)!;
              for (const [invocation, actual] of runs.get(warm)!) {
                const oracle = expected.get(invocation)!;
                assertEquals(
                  oracle.code,
                  0,
                  `plain ghc failed on ${lib.name} ${invocation}:\n${oracle.stderr}`,
                );
                try {
                  assertSameRun(actual, oracle);
                } catch (e) {
                  problems.push(`${lib.name} ${invocation}: ${e instanceof Error ? e.message : e}`);
                }
              }
              assertEquals(
                await listFiles(warm),
                await listFiles(cold),
                `${lib.name}: different sets of files`,
              );
              const mismatches = await interfaceMismatches(cold, warm, lib, modulesOf(lib), dynamic);
              problems.push(...mismatches.map((m) => `${lib.name}: ${m}`));
            }
            assertEquals(problems, [], `ghcpw's results differ from cold ghc's:\n${problems.join("\n")}`);
          });
        }
      }
    } finally {
      const log = await server.stop();
      await Deno.remove(root, { recursive: true }).catch(() => {});
      if (/panic|uncaught/i.test(log)) console.error(log);
    }
  },
});

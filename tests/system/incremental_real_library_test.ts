/**
 * A real library no one here wrote — Debian's aeson (scripts/real_library/), all its modules as one
 * `ghc --make` target, as rules_haskell builds a library — through an edit sequence, each step built by
 * plain ghc and through one ghcpw server into emptied output directories (as Bazel empties them): no
 * change, a body edit and an added export in a module in the middle of its graph, then an export added to
 * its root (the module most others depend on, some only through re-exports). Every step: same exit
 * code, same diagnostics (as a set), the same interfaces; and ghcpw restored modules and compiled fewer.
 *
 * Needs root the first time (apt installs libghc-aeson-dev and fetches the source), as
 * tests/system/real_library_test.ts does.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { ghc, ghcpw, type Run } from "../support/helpers.ts";
import {
  type Counters,
  emptyOutputs,
  incrementalServer,
  measured,
  ranCodeModules,
} from "../support/incremental.ts";
import {
  assertSameInterfaces,
  copySources,
  fetchRealLibrary,
  ghcIsDynamic,
  suiteFlags,
} from "../support/real_library.ts";
import { Twins } from "../support/twins.ts";
import { compiledNames, diagnosticSet } from "../../scripts/output_compare.ts";
import {
  addExport,
  addInternalBinding,
  chooseEditTargets,
  hasExportList,
} from "../../scripts/source_edits.ts";

Deno.test("Debian's aeson as one --make target: an edit sequence restores what did not change, as cold ghc --make builds it", async (t) => {
  const lib = await fetchRealLibrary("aeson");
  const dynamic = await ghcIsDynamic();
  const graph = lib.steps.filter((s) => s.module !== null && !s.module.endsWith("[boot]"));
  const modules = graph.map((s) => s.module!);
  // Haskell modules only: -no-link needs no C objects.
  const args = ["--make", "-no-link", ...suiteFlags(lib, dynamic), ...graph.map((s) => s.file)];
  const server = await incrementalServer();
  const w = await Twins.create(server, {}, "ghcpw-inc-aeson-");
  const root = `${w.cold}/..`;
  try {
    for (const tree of [w.cold, w.warm]) await copySources(lib, tree);
    const { middle, root } = chooseEditTargets(
      graph,
      (s) => hasExportList(Deno.readTextFileSync(`${w.cold}/${s.file}`), s.module!),
    );
    console.log(
      `${lib.name}-${lib.version} on GHC ${lib.ghcVersion}: ${modules.length} modules; edits in ${middle.module}` +
        ` and ${root.module}`,
    );

    let cold: Run | null = null;
    /**
     * Builds through ghcpw into emptied directories and, unless the sources are those of the last cold
     * build (`rebuildCold` false), plain ghc at the same time; compares. Resolves to ghcpw's run and counts.
     */
    const build = async (rebuildCold: boolean): Promise<{ warm: Run; delta: Counters; log: string }> => {
      await emptyOutputs(w.warm, [lib.buildDir]);
      if (rebuildCold) await emptyOutputs(w.cold, [lib.buildDir]);
      const { result: [expected, warm], delta, log } = await measured(server, () =>
        Promise.all([
          rebuildCold ? ghc(args, w.cold) : Promise.resolve(cold!),
          ghcpw(server.socket, args, w.warm),
        ]));
      cold = expected;
      assertEquals(expected.code, 0, `cold ghc --make failed:\n${expected.stderr}`);
      assertEquals(warm.code, 0, `ghcpw failed:\n${warm.stderr}`);
      assertEquals(
        diagnosticSet(warm.stdout + warm.stderr),
        diagnosticSet(expected.stdout + expected.stderr),
        log,
      );
      await assertSameInterfaces(w.cold, w.warm, lib, modules, dynamic);
      return { warm, delta, log };
    };
    const editBoth = async (change: (source: string) => string, file = middle.file) => {
      const source = await Deno.readTextFile(`${w.cold}/${file}`);
      await w.write({ [file]: change(source) });
    };

    await t.step("from scratch", async () => {
      const { warm } = await build(true);
      assertEquals(compiledNames(warm.stdout).length, modules.length);
    });
    await t.step("no change: every module restored but those whose compile ran code", async () => {
      const { warm, delta, log } = await build(false);
      const ranCode = ranCodeModules(log);
      // Modules with CPP before their header (Data.Aeson.Types.Internal, Data.Aeson.Parser.Internal) too:
      // restored under the name GHC gave them.
      console.log(`ran code when compiled: ${ranCode.join(", ") || "none"}`);
      assertEquals(delta.modulesRestored, modules.length - ranCode.length, log);
      assertEquals(delta.redoneClean, 0, log);
      assertEquals(compiledNames(warm.stdout).sort(), [...ranCode].sort(), warm.stdout);
    });
    await t.step(`a body edit in the middle of the graph`, async () => {
      await editBoth((s) => addInternalBinding(s));
      const { warm, delta, log } = await build(true);
      assert(delta.modulesRestored > modules.length / 2, `restored ${delta.modulesRestored}\n${log}`);
      assert(compiledNames(warm.stdout).includes(middle.module!), warm.stdout);
      assert(compiledNames(warm.stdout).length < modules.length / 2, warm.stdout);
    });
    await t.step("an export added there", async () => {
      await editBoth((s) => addExport(s, middle.module!));
      const { warm, delta, log } = await build(true);
      assert(delta.modulesRestored > 0, log);
      assert(compiledNames(warm.stdout).length < modules.length, warm.stdout);
    });
    // Modules that reach the root only through re-exports are skipped by GHC with interfaces recording the
    // root's old module hash (lib/incremental/stale.ts): they must come out as a cold build's.
    await t.step("an export added to the root of the graph", async () => {
      await editBoth((s) => addExport(s, root.module!, "ghcpwAddedRoot"), root.file);
      const { delta, log } = await build(true);
      assert(delta.modulesRestored > 0, log);
    });
  } finally {
    const log = await server.stop();
    await Deno.remove(root, { recursive: true }).catch(() => {});
    if (/panic|uncaught/i.test(log)) console.error(log);
  }
});

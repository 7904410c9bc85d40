/**
 * A real library no one here wrote — Debian's haskell-aeson, fetched with `apt-get source` at test time
 * (scripts/real_library/) — compiled module by module with one-shot `ghc -c` in dependency order, once on
 * plain ghc and once through ghcpw, in twin trees: every module must give the same exit code and
 * diagnostics, and byte-identical .hi (and .dyn_hi) files. Then an edit of a low-level module and a rebuild
 * of it and its dependents, compared again.
 *
 * Needs root the first time (apt installs libghc-aeson-dev and fetches the source); without it, or without
 * the Debian mirror, the test fails saying so.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { assertSameRun, ghc, ghcpw, type Run, startServer } from "../support/helpers.ts";
import {
  assertSameInterfaces,
  copySources,
  fetchRealLibrary,
  ghcIsDynamic,
  interfaceFiles,
  suiteFlags,
} from "../support/real_library.ts";
import { Twins } from "../support/twins.ts";
import type { RealLibrary } from "../../scripts/real_library/library.ts";
import { type BuildStep, dependentsOf } from "../../scripts/real_library/module_order.ts";

const LIBRARY = "aeson";

/**
 * Like Twins.same, but runs plain ghc and ghcpw at the same time (separate trees, so they cannot interfere):
 * aeson's big modules take seconds each, and the suite runs on three GHCs in CI.
 */
async function sameConcurrently(w: Twins, args: string[]): Promise<Run> {
  const [expected, actual] = await Promise.all([ghc(args, w.cold), ghcpw(w.server.socket, args, w.warm)]);
  assertSameRun(actual, expected);
  return actual;
}

/** Compiles steps in order on both sides; every one must succeed and match. */
async function buildSteps(w: Twins, lib: RealLibrary, steps: BuildStep[], hsFlags: string[]): Promise<void> {
  for (const step of steps) {
    const flags = step.module === null ? lib.cSourceFlags : hsFlags;
    const r = await sameConcurrently(w, ["-c", ...flags, step.file]);
    assertEquals(r.code, 0, `ghc -c ${step.file} failed (on both sides):\n${r.stderr}`);
  }
}

/** A home module of the library's own unit whose splice runs the library's Template Haskell code. */
const SPLICE_MODULE = "GhcpwSplice";
const SPLICE_FILE = `ghcpw-test/${SPLICE_MODULE}.hs`;
const SPLICE_SOURCE = `{-# LANGUAGE TemplateHaskell #-}
module ${SPLICE_MODULE} (Point (..)) where
import Data.Aeson.TH (defaultOptions, deriveJSON)
data Point = Point { px :: Int, py :: Int }
$(deriveJSON defaultOptions ''Point)
`;

/** The module to edit: a low-level one with dependents (aeson's Internal.Functions if present). */
function moduleToEdit(steps: BuildStep[]): string {
  const preferred = "Data.Aeson.Internal.Functions";
  if (steps.some((s) => s.module === preferred)) return preferred;
  // Otherwise the leaf with the fewest dependents, to keep the rebuild short.
  const leaves = steps.filter((s) =>
    s.module !== null && s.imports.length === 0 && !s.module.endsWith("[boot]")
  );
  const ranked = leaves
    .map((s) => ({ module: s.module!, dependents: dependentsOf(steps, s.module!).length }))
    .filter((c) => c.dependents > 1)
    .sort((a, b) => a.dependents - b.dependents || a.module.localeCompare(b.module));
  assert(ranked.length > 0, "no low-level module with dependents to edit");
  return ranked[0].module;
}

/**
 * Adds an exported function to a module's source: first in its export list if it has one (otherwise every
 * top-level binding is exported anyway), defined at the end. Polymorphic so it needs nothing in scope, even
 * under NoImplicitPrelude.
 */
function addExportedFunction(source: string, module: string): string {
  const header = new RegExp(`^module\\s+${module.replaceAll(".", "\\.")}\\b`, "m").exec(source);
  assert(header, `no 'module ${module}' header`);
  const afterName = header.index + header[0].length;
  const where = /\bwhere\b/.exec(source.slice(afterName));
  assert(where, `no 'where' after 'module ${module}'`);
  const between = source.slice(afterName, afterName + where.index);
  const open = between.indexOf("(");
  const exported = open < 0
    ? source
    : `${source.slice(0, afterName + open + 1)} ghcpwAdded,${source.slice(afterName + open + 1)}`;
  return `${exported}\n\nghcpwAdded :: a -> a\nghcpwAdded x = x\n`;
}

Deno.test("Debian's aeson built module by module through ghcpw gives cold ghc's results", async (t) => {
  const lib = await fetchRealLibrary(LIBRARY);
  const dynamic = await ghcIsDynamic();
  const hsFlags = suiteFlags(lib, dynamic);
  const modules = lib.steps.flatMap((s) => s.module === null ? [] : [s.module]);
  console.log(
    `${lib.name}-${lib.version} (Debian ${lib.debianVersion}) on GHC ${lib.ghcVersion}: ${modules.length} ` +
      `modules, ${lib.cSources.length} C sources; flags: ${hsFlags.join(" ")}`,
  );
  const server = await startServer();
  let root = "";
  try {
    const w = await Twins.create(server, {}, "ghcpw-real-lib-");
    root = w.cold.slice(0, w.cold.lastIndexOf("/"));
    for (const tree of [w.cold, w.warm]) await copySources(lib, tree);

    let built = false;
    await t.step("every module, in dependency order", async () => {
      const started = Date.now();
      await buildSteps(w, lib, lib.steps, hsFlags);
      await assertSameInterfaces(w.cold, w.warm, lib, modules, dynamic);
      console.log(
        `  ${lib.steps.length} compiles on both sides in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      built = true;
    });

    let spliced = false;
    await t.step({
      name: "a home module whose splice runs the library's code (deriveJSON)",
      ignore: !built,
      fn: async () => {
        await w.write({ [SPLICE_FILE]: SPLICE_SOURCE });
        const r = await sameConcurrently(w, ["-c", ...hsFlags, SPLICE_FILE]);
        assertEquals(r.code, 0, `${SPLICE_FILE} failed (on both sides):\n${r.stderr}`);
        await assertSameInterfaces(w.cold, w.warm, lib, [SPLICE_MODULE], dynamic);
        spliced = true;
      },
    });

    await t.step({
      name: "edit a low-level module, rebuild it and its dependents",
      ignore: !built,
      fn: async () => {
        const edited = moduleToEdit(lib.steps);
        const step = lib.steps.find((s) => s.module === edited)!;
        const before = await Deno.readFile(`${w.cold}/${interfaceFiles(lib, edited, false)[0]}`);
        const source = await Deno.readTextFile(`${w.cold}/${step.file}`);
        await w.write({ [step.file]: addExportedFunction(source, edited) });
        // Not -fforce-recomp: GHC's recompilation check decides which dependents really recompile, and
        // ghcpw must decide the same.
        const rebuild = dependentsOf(lib.steps, edited);
        if (spliced) {
          rebuild.push({ module: SPLICE_MODULE, file: SPLICE_FILE, imports: ["Data.Aeson.TH"] });
        }
        const started = Date.now();
        await buildSteps(w, lib, rebuild, hsFlags);
        console.log(
          `  edited ${edited}; rebuilt it and ${rebuild.length - 1} dependents in ` +
            `${((Date.now() - started) / 1000).toFixed(1)} s`,
        );
        const after = await Deno.readFile(`${w.cold}/${interfaceFiles(lib, edited, false)[0]}`);
        assert(
          after.length !== before.length || after.some((b, k) => b !== before[k]),
          `the edit of ${edited} did not change its interface: the step tests nothing`,
        );
        await assertSameInterfaces(
          w.cold,
          w.warm,
          lib,
          [...modules, ...(spliced ? [SPLICE_MODULE] : [])],
          dynamic,
        );
      },
    });
  } finally {
    const log = await server.stop();
    if (root) await Deno.remove(root, { recursive: true }).catch(() => {});
    if (/panic|uncaught/i.test(log)) console.error(log);
  }
});

import { assertEquals, assertMatch } from "../support/assert.ts";
import {
  type BuildStep,
  byName,
  dependentsOf,
  moduleOfSource,
  parseDepMakefile,
  reorderSteps,
  stepsOfGraph,
  topologicalOrder,
} from "../../scripts/real_library/module_order.ts";
import { RealLibraryError } from "../../scripts/real_library/process.ts";

/** What `ghc -M -dep-suffix ''` writes for A.B importing C's boot file, C importing A.B, D importing C. */
const MAKEFILE = `# DO NOT DELETE: Beginning of Haskell dependencies
src/C.o-boot : src/C.hs-boot
src/C.o : src/C.hi-boot
src/A/B.o : src/A/B.hs
src/A/B.o : src/C.hi-boot
src/C.o : src/C.hs
src/C.o : src/A/B.hi
src/D.o : src/D.hs
src/D.o : \\
  src/C.hi
# DO NOT DELETE: End of Haskell dependencies
`;

Deno.test("ghc -M's makefile becomes source → home sources, boot files apart, continuation lines joined", () => {
  assertEquals(
    parseDepMakefile(MAKEFILE),
    new Map([
      ["src/C.hs-boot", []],
      ["src/A/B.hs", ["src/C.hs-boot"]],
      ["src/C.hs", ["src/C.hs-boot", "src/A/B.hs"]],
      ["src/D.hs", ["src/C.hs"]],
    ]),
  );
});

Deno.test("dependencies that are no home module's (package interfaces) are left out", () => {
  const text = "M.o : M.hs\nM.o : /usr/lib/ghc/base/Prelude.hi\n";
  assertEquals(parseDepMakefile(text), new Map([["M.hs", []]]));
});

Deno.test("source paths name modules relative to their source directory; boot files get [boot]", () => {
  assertEquals(moduleOfSource("src/A/B.hs", ["src"]), "A.B");
  assertEquals(moduleOfSource("src/C.hs-boot", ["src"]), "C[boot]");
  assertEquals(moduleOfSource("Top.lhs", ["."]), "Top");
  assertEquals(moduleOfSource("compat/X.hs", ["src", "compat"]), "X");
});

Deno.test("the steps of ghc -M's graph come in dependency order, each with the modules it imports", () => {
  assertEquals(stepsOfGraph(parseDepMakefile(MAKEFILE), ["src"]), [
    { module: "C[boot]", file: "src/C.hs-boot", imports: [] },
    { module: "A.B", file: "src/A/B.hs", imports: ["C[boot]"] },
    { module: "C", file: "src/C.hs", imports: ["C[boot]", "A.B"] },
    { module: "D", file: "src/D.hs", imports: ["C"] },
  ]);
});

Deno.test("a topological order puts dependencies first and breaks ties by the comparison", () => {
  const graph = new Map([["d", ["b", "c"]], ["c", ["a"]], ["b", ["a"]], ["a", []], ["e", []]]);
  assertEquals(topologicalOrder(graph), ["a", "b", "c", "d", "e"]);
  assertEquals(topologicalOrder(graph, (x, y) => byName(y, x)), ["e", "a", "c", "b", "d"]);
});

Deno.test("an import cycle is an error that names it", () => {
  const graph = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]]]);
  try {
    topologicalOrder(graph);
    throw new Error("no error");
  } catch (e) {
    assertEquals(e instanceof RealLibraryError, true);
    assertMatch((e as Error).message, /import cycle: a -> b -> c -> a/);
  }
});

const STEPS: BuildStep[] = [
  { module: null, file: "cbits/x.c", imports: [] },
  { module: "A", file: "A.hs", imports: [] },
  { module: "B", file: "B.hs", imports: ["A"] },
  { module: "C", file: "C.hs", imports: ["A"] },
  { module: "D", file: "D.hs", imports: ["B"] },
  { module: "E", file: "E.hs", imports: [] },
];

Deno.test("steps reorder into another valid dependency order of the same steps", () => {
  const reversed = reorderSteps(STEPS, (a, b) => byName(b, a));
  assertEquals(reversed.map((s) => s.module ?? s.file), ["cbits/x.c", "E", "A", "B", "D", "C"]);
  const seen = new Set<string>();
  for (const step of reversed) {
    for (const m of step.imports) assertEquals(seen.has(m), true, `${step.module} before its import ${m}`);
    if (step.module) seen.add(step.module);
  }
  assertEquals(reorderSteps(STEPS, byName).map((s) => s.module ?? s.file), [
    "A",
    "B",
    "C",
    "D",
    "E",
    "cbits/x.c",
  ]);
});

Deno.test("a step importing a module that no step builds is an error", () => {
  try {
    reorderSteps([{ module: "A", file: "A.hs", imports: ["Missing"] }], byName);
    throw new Error("no error");
  } catch (e) {
    assertMatch((e as Error).message, /imports Missing, which no step builds/);
  }
});

Deno.test("the dependents of a module are it and everything importing it, transitively, in build order", () => {
  assertEquals(dependentsOf(STEPS, "A").map((s) => s.module), ["A", "B", "C", "D"]);
  assertEquals(dependentsOf(STEPS, "B").map((s) => s.module), ["B", "D"]);
  assertEquals(dependentsOf(STEPS, "E").map((s) => s.module), ["E"]);
});

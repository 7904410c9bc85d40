/**
 * The source edits of rebuild tests and benchmarks (scripts/source_edits.ts), the choice of modules to
 * edit, and the command line of the incremental benchmark (scripts/bench/incremental.ts, scripts/bench.ts).
 */

import { assert, assertEquals, assertThrows } from "../support/assert.ts";
import {
  addExport,
  addInternalBinding,
  chooseEditTargets,
  hasExportList,
} from "../../scripts/source_edits.ts";
import { editSteps, parseIncrementalArgs } from "../../scripts/bench/incremental.ts";
import { splitScenario } from "../../scripts/bench.ts";

Deno.test("addExport puts the new function first in the export list, or relies on exporting everything", () => {
  assertEquals(
    addExport("module A.B\n  ( x\n  ) where\nx = 1\n", "A.B", "f"),
    "module A.B\n  ( f, x\n  ) where\nx = 1\n\n\nf :: a -> a\nf x = x\n",
  );
  assertEquals(
    addExport("module A where\nx = 1\n", "A"),
    "module A where\nx = 1\n\n\nghcpwAdded :: a -> a\nghcpwAdded x = x\n",
  );
  assertThrows(() => addExport("x = 1\n", "A"));
  assert(hasExportList("module A (x) where", "A"));
  assert(!hasExportList("module A where", "A"));
  assert(
    addInternalBinding("module A (x) where\n", 2).endsWith(
      "ghcpwInternal2 :: a -> a\nghcpwInternal2 x = x\n",
    ),
  );
});

Deno.test("chooseEditTargets picks a leaf, a median middle module and the most depended-on root", () => {
  const step = (module: string, imports: string[]) => ({ module, file: `${module}.hs`, imports });
  const steps = [
    step("Root", []),
    step("Other", []),
    step("M1", ["Root"]),
    step("M2", ["M1"]),
    step("M3", ["M2", "Other"]),
    step("Top", ["M3"]),
    step("Main", ["Top"]),
  ];
  const t = chooseEditTargets(steps, () => true);
  assertEquals([t.leaf.module, t.middle.module, t.root.module], ["Top", "M2", "Root"]);
  // Without an export list a module cannot take a body edit.
  assertEquals(chooseEditTargets(steps, (s) => s.module !== "Top").leaf.module, "M3");
  assertThrows(() => chooseEditTargets([step("Main", [])], () => true));
  assertEquals(
    editSteps(t).map((s) => [s.name, s.file, s.bodyEdit]),
    [
      ["from scratch", null, false],
      ["no change", null, false],
      ["leaf body edit", "Top.hs", true],
      ["mid-graph body edit", "M2.hs", true],
      ["export added", "M2.hs", false],
      ["root export added", "Root.hs", false],
    ],
  );
});

Deno.test("bench.ts --scenario incremental: its options", () => {
  assertEquals(splitScenario(["--scenario", "incremental", "--levels", "-O0"]), {
    scenario: "incremental",
    rest: ["--levels", "-O0"],
  });
  assertEquals(splitScenario(["--jobs", "1"]), { scenario: null, rest: ["--jobs", "1"] });
  assertThrows(() => splitScenario(["--scenario=nope"]));
  const options = parseIncrementalArgs(["--project", "synthetic", "--levels", "-O0,-O2", "--modules", "6"])!;
  assertEquals([options.projects, options.levels, options.modules], [["synthetic"], ["-O0", "-O2"], 6]);
  assertEquals(parseIncrementalArgs(["-h"]), null);
  assertThrows(() => parseIncrementalArgs(["--modules", "2"]));
});
